-- How many hashes of request ids occur more than once among the rows
-- inserted since rowid $1. Equal ids have equal hashes, so 0 means there are
-- no duplicates; otherwise dedupe_new.sql removes the exact ones (a hash
-- collision alone removes nothing). Grouping on the 64-bit hash instead of
-- the string is about 20% cheaper on 10 M new rows.
SELECT count(*) FROM (
    SELECT hash(request_id) AS h FROM records WHERE rowid >= $1 GROUP BY h HAVING count(*) > 1
);
