-- One row per technician assigned to an appointment (nested in the appointment's newest version).
with appointments as {{ latest_version('appointments') }}

select
    a.id as assignment_id,
    appointments.id as appointment_id,
    appointments."jobId" as job_id,
    a."technicianId" as technician_id,
    a."technicianName" as technician_name,
    a.status as assignment_status,
    {{ utc('a."assignedOn"') }} as assigned_at,
    a."isPaused" as is_paused,
    a.active as is_active
from appointments, unnest(appointments.assignments) as t(a)
