"""Write-back definitions: the write jobs and their op, the queue sensor, the freshness
sensor and the auto-invoice schedule."""
