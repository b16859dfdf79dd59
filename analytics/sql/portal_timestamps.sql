-- Rewrite {{col}} values written the way the Azure portal exports
-- Log Analytics results to CSV ("11/3/2026, 9:15:02.123 AM", UTC) as ISO
-- 8601; values that already convert are left alone.
UPDATE stage
SET {{col}} = strftime(
        try_strptime({{col}}, ['%m/%d/%Y, %I:%M:%S.%g %p', '%m/%d/%Y, %I:%M:%S %p', '%m/%d/%Y %I:%M:%S %p']),
        '%Y-%m-%dT%H:%M:%S.%fZ')
WHERE {{col}} IS NOT NULL
  AND TRY_CAST({{col}} AS TIMESTAMPTZ) IS NULL
  AND try_strptime({{col}}, ['%m/%d/%Y, %I:%M:%S.%g %p', '%m/%d/%Y, %I:%M:%S %p', '%m/%d/%Y %I:%M:%S %p']) IS NOT NULL;
