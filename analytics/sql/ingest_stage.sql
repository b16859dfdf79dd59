-- Insert staged rows (temp table stage, already carrying every records
-- column) that are not present yet; the select list is filled in with the
-- records columns cast to the table's types. Dedupe on request_id against the table and
-- within the stage.
INSERT INTO records
SELECT DISTINCT ON (s.request_id) {{columns}}
FROM stage s
ANTI JOIN records r ON r.request_id = s.request_id
WHERE s.request_id IS NOT NULL AND s.ts IS NOT NULL;
