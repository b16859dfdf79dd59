-- The first staged Parquet row whose {{col}} is set but does not convert to
-- the records type {{type}}, with its file and 0-based row in that file.
SELECT filename, file_row_number, CAST({{col}} AS VARCHAR)
FROM stage
WHERE {{col}} IS NOT NULL AND TRY_CAST({{col}} AS {{type}}) IS NULL
ORDER BY filename, file_row_number
LIMIT 1;
