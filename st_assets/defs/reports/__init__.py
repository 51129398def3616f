"""Custom reports of the Reporting API named in ``ST_REPORTS_FILE``, one asset each
(``assets.py``), their job and daily schedule."""
