-- Whether the rows inserted since rowid $1 may repeat a request id: the
-- number of rows whose id hashes equal to the one before in hash order. Equal
-- ids hash equal, so 0 means there are no repeats; otherwise dedupe_new.sql
-- removes the exact ones (a collision alone removes nothing). It runs after
-- every insert, inside its transaction, so it must be cheap when (as usual)
-- there are none: on 10 M new rows sorting the hashes takes 1.1 s, sorting
-- the ids 1.3–1.5 s, grouping by id 2.3 s.
SELECT count(*) FROM (
    SELECT h, lag(h) OVER (ORDER BY h) AS prev
    FROM (SELECT hash(request_id) AS h FROM records WHERE rowid >= $1)
) WHERE h = prev;
