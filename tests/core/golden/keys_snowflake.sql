-- profile of a key
SELECT
  DATE_TRUNC('DAY', "ts") AS bucket,
  COUNT(*) AS row_count,
  COUNT("order_id") AS c0_nonnull,
  MIN("order_id") AS c0_min,
  MAX("order_id") AS c0_max,
  COUNT(DISTINCT "order_id") AS c0_key_distinct,
  COUNT("ts") AS c1_nonnull,
  MIN("ts") AS c1_min,
  MAX("ts") AS c1_max
FROM "s"."t"
WHERE
  "ts" >= CAST('2024-03-01 00:00:00' AS TIMESTAMP)
  AND "ts" < CAST('2024-03-03 00:00:00' AS TIMESTAMP)
GROUP BY
  DATE_TRUNC('DAY', "ts")

-- duplicate examples
SELECT
  d.key_value,
  d.n,
  COUNT(*) OVER () AS duplicated_keys,
  SUM(d.n - 1) OVER () AS extra_rows
FROM (
  SELECT
    "order_id" AS key_value,
    COUNT(*) AS n
  FROM "s"."t"
  WHERE
    NOT "order_id" IS NULL
    AND (
      "ts" >= CAST('2024-03-01 00:00:00' AS TIMESTAMP)
      AND "ts" < CAST('2024-03-03 00:00:00' AS TIMESTAMP)
    )
  GROUP BY
    "order_id"
  HAVING
    COUNT(*) > 1
) AS d
ORDER BY
  d.n DESC NULLS LAST,
  d.key_value
LIMIT 5

-- orphans
SELECT
  DATE_TRUNC('DAY', "ts") AS bucket,
  COUNT(*) AS row_count,
  COUNT("order_id") AS keys,
  COUNT("order_id") - COUNT(p.k) AS orphans
FROM "s"."t"
LEFT JOIN (
  SELECT DISTINCT
    "id" AS k
  FROM "s"."customers"
) AS p
  ON "order_id" = p.k
WHERE
  "ts" >= CAST('2024-03-01 00:00:00' AS TIMESTAMP)
  AND "ts" < CAST('2024-03-03 00:00:00' AS TIMESTAMP)
GROUP BY
  DATE_TRUNC('DAY', "ts")
