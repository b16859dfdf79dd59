-- Copy every record to Parquet files partitioned by UTC day and team, Hive
-- style. The partition columns live in the folder names only.
COPY (
    SELECT *, strftime(timezone('UTC', ts), '%Y-%m-%d') AS day
    FROM records
    ORDER BY ts
) TO '{{dir}}' (FORMAT parquet, PARTITION_BY (day, team), OVERWRITE_OR_IGNORE true, COMPRESSION zstd);
