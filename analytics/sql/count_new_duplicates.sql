-- How many request ids occur more than once among the rows inserted since
-- rowid $1.
SELECT count(*) FROM (
    SELECT request_id FROM records WHERE rowid >= $1 GROUP BY request_id HAVING count(*) > 1
);
