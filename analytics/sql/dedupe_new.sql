-- Remove duplicate request ids among the rows just inserted (rowid >= $1),
-- keeping the first inserted. Run only when count_new_duplicates.sql finds some.
DELETE FROM records
WHERE rowid IN (
    SELECT rowid FROM (
        SELECT rowid, row_number() OVER (PARTITION BY request_id ORDER BY rowid) AS n
        FROM records WHERE rowid >= $1
    ) WHERE n > 1
);
