-- The first staged row whose {{col}} is set but does not convert to
-- {{type}} (no row when every value converts).
SELECT aiload_row, CAST({{col}} AS VARCHAR)
FROM stage
WHERE {{col}} IS NOT NULL AND trim(CAST({{col}} AS VARCHAR)) <> ''
  AND TRY_CAST({{col}} AS {{type}}) IS NULL
ORDER BY aiload_row
LIMIT 1;
