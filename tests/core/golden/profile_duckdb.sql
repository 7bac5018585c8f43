-- profile
SELECT
  DATE_TRUNC('HOUR', "ts") AS bucket,
  COUNT(*) AS row_count,
  COUNT("i") AS c0_nonnull,
  APPROX_COUNT_DISTINCT("i") AS c0_distinct,
  MIN("i") AS c0_min,
  MAX("i") AS c0_max,
  AVG("i") AS c0_mean,
  STDDEV_SAMP("i") AS c0_stddev,
  QUANTILE_CONT("i", [0.01, 0.25, 0.5, 0.75, 0.99]) AS c0_q,
  COUNT_IF("i" = 0) AS c0_zero,
  COUNT_IF("i" < 0) AS c0_negative,
  COUNT("f") AS c1_nonnull,
  APPROX_COUNT_DISTINCT("f") AS c1_distinct,
  MIN("f") AS c1_min,
  MAX("f") AS c1_max,
  AVG("f") AS c1_mean,
  STDDEV_SAMP("f") AS c1_stddev,
  QUANTILE_CONT("f", [0.01, 0.25, 0.5, 0.75, 0.99]) AS c1_q,
  COUNT_IF("f" = 0) AS c1_zero,
  COUNT_IF("f" < 0) AS c1_negative,
  COUNT("d") AS c2_nonnull,
  APPROX_COUNT_DISTINCT("d") AS c2_distinct,
  MIN("d") AS c2_min,
  MAX("d") AS c2_max,
  AVG("d") AS c2_mean,
  STDDEV_SAMP("d") AS c2_stddev,
  QUANTILE_CONT(CAST("d" AS DOUBLE), [0.01, 0.25, 0.5, 0.75, 0.99]) AS c2_q,
  COUNT_IF("d" = 0) AS c2_zero,
  COUNT_IF("d" < 0) AS c2_negative,
  COUNT("s") AS c3_nonnull,
  APPROX_COUNT_DISTINCT("s") AS c3_distinct,
  MIN(LENGTH("s")) AS c3_len_min,
  MAX(LENGTH("s")) AS c3_len_max,
  AVG(LENGTH("s")) AS c3_len_mean,
  COUNT_IF("s" = '') AS c3_empty,
  COUNT("b") AS c4_nonnull,
  COUNT_IF("b") AS c4_true,
  COUNT("ts") AS c5_nonnull,
  MIN("ts") AS c5_min,
  MAX("ts") AS c5_max,
  COUNT_IF("ts" > CAST('2024-03-03 12:00:00' AS TIMESTAMP)) AS c5_future,
  COUNT("dt") AS c6_nonnull,
  MIN("dt") AS c6_min,
  MAX("dt") AS c6_max,
  COUNT_IF("dt" > CAST('2024-03-03' AS DATE)) AS c6_future,
  COUNT("tm") AS c7_nonnull,
  APPROX_COUNT_DISTINCT("tm") AS c7_distinct,
  COUNT("allnull") AS c8_nonnull,
  APPROX_COUNT_DISTINCT("allnull") AS c8_distinct,
  MIN("allnull") AS c8_min,
  MAX("allnull") AS c8_max,
  AVG("allnull") AS c8_mean,
  STDDEV_SAMP("allnull") AS c8_stddev,
  QUANTILE_CONT("allnull", [0.01, 0.25, 0.5, 0.75, 0.99]) AS c8_q,
  COUNT_IF("allnull" = 0) AS c8_zero,
  COUNT_IF("allnull" < 0) AS c8_negative
FROM "s"."t"
WHERE
  "ts" >= CAST('2024-03-01 00:00:00' AS TIMESTAMP)
  AND "ts" < CAST('2024-03-03 00:00:00' AS TIMESTAMP)
GROUP BY
  DATE_TRUNC('HOUR', "ts")

-- profile, sampled, no bucket
SELECT COUNT(*) AS row_count, COUNT("i") AS c0_nonnull, APPROX_COUNT_DISTINCT("i") AS c0_distinct, MIN("i") AS c0_min, MAX("i") AS c0_max, AVG("i") AS c0_mean, STDDEV_SAMP("i") AS c0_stddev, QUANTILE_CONT("i", [0.01, 0.25, 0.5, 0.75, 0.99]) AS c0_q, COUNT_IF("i" = 0) AS c0_zero, COUNT_IF("i" < 0) AS c0_negative, COUNT("f") AS c1_nonnull, APPROX_COUNT_DISTINCT("f") AS c1_distinct, MIN("f") AS c1_min, MAX("f") AS c1_max, AVG("f") AS c1_mean, STDDEV_SAMP("f") AS c1_stddev, QUANTILE_CONT("f", [0.01, 0.25, 0.5, 0.75, 0.99]) AS c1_q, COUNT_IF("f" = 0) AS c1_zero, COUNT_IF("f" < 0) AS c1_negative FROM "s"."t" TABLESAMPLE SYSTEM (10 PERCENT)

-- categorical (grouping_sets)
SELECT
  bucket,
  col,
  CASE WHEN r <= 5 THEN value ELSE '__other__' END AS value,
  SUM(n) AS n,
  MAX(r) AS max_rank
FROM (
  SELECT
    bucket,
    col,
    value,
    n,
    DENSE_RANK() OVER (PARTITION BY col ORDER BY total DESC, value) AS r
  FROM (
    SELECT
      bucket,
      col,
      value,
      n,
      SUM(n) OVER (PARTITION BY col, value) AS total
    FROM (
      SELECT
        bucket,
        CASE WHEN NOT v0 IS NULL THEN 0 WHEN NOT v1 IS NULL THEN 1 END AS col,
        COALESCE(v0, v1) AS value,
        n
      FROM (
        SELECT
          DATE_TRUNC('HOUR', "ts") AS bucket,
          COALESCE("s", '__null__') AS v0,
          COALESCE(CAST("b" AS TEXT), '__null__') AS v1,
          COUNT(*) AS n
        FROM "s"."t"
        WHERE
          "ts" >= CAST('2024-03-01 00:00:00' AS TIMESTAMP)
          AND "ts" < CAST('2024-03-03 00:00:00' AS TIMESTAMP)
        GROUP BY
          GROUPING SETS (
            (DATE_TRUNC('HOUR', "ts"), COALESCE("s", '__null__')),
            (DATE_TRUNC('HOUR', "ts"), COALESCE(CAST("b" AS TEXT), '__null__'))
          )
      ) AS w
    ) AS l
  ) AS t
) AS k
GROUP BY
  bucket,
  col,
  CASE WHEN r <= 5 THEN value ELSE '__other__' END

-- segments
SELECT
  "dt" AS bucket,
  CASE
    WHEN 's=' || COALESCE("s", '__null__') || '|b=' || COALESCE(CAST("b" AS TEXT), '__null__') IN (
      SELECT
        k
      FROM (
        SELECT
          's=' || COALESCE("s", '__null__') || '|b=' || COALESCE(CAST("b" AS TEXT), '__null__') AS k
        FROM "s"."t"
        WHERE
          "dt" >= CAST('2024-03-01' AS DATE) AND "dt" < CAST('2024-03-03' AS DATE)
        GROUP BY
          's=' || COALESCE("s", '__null__') || '|b=' || COALESCE(CAST("b" AS TEXT), '__null__')
        ORDER BY
          COUNT(*) DESC
        LIMIT 10
      ) AS s
    )
    THEN 's=' || COALESCE("s", '__null__') || '|b=' || COALESCE(CAST("b" AS TEXT), '__null__')
    ELSE '__other__'
  END AS segment,
  COUNT(*) AS row_count,
  COUNT("i") AS c0_nonnull,
  AVG("i") AS c0_mean,
  COUNT("f") AS c1_nonnull,
  AVG("f") AS c1_mean,
  COUNT("d") AS c2_nonnull,
  AVG("d") AS c2_mean,
  COUNT("ts") AS c3_nonnull,
  COUNT("dt") AS c4_nonnull,
  COUNT("tm") AS c5_nonnull,
  COUNT("allnull") AS c6_nonnull,
  AVG("allnull") AS c6_mean
FROM "s"."t"
WHERE
  "dt" >= CAST('2024-03-01' AS DATE) AND "dt" < CAST('2024-03-03' AS DATE)
GROUP BY
  "dt",
  CASE
    WHEN 's=' || COALESCE("s", '__null__') || '|b=' || COALESCE(CAST("b" AS TEXT), '__null__') IN (
      SELECT
        k
      FROM (
        SELECT
          's=' || COALESCE("s", '__null__') || '|b=' || COALESCE(CAST("b" AS TEXT), '__null__') AS k
        FROM "s"."t"
        WHERE
          "dt" >= CAST('2024-03-01' AS DATE) AND "dt" < CAST('2024-03-03' AS DATE)
        GROUP BY
          's=' || COALESCE("s", '__null__') || '|b=' || COALESCE(CAST("b" AS TEXT), '__null__')
        ORDER BY
          COUNT(*) DESC
        LIMIT 10
      ) AS s
    )
    THEN 's=' || COALESCE("s", '__null__') || '|b=' || COALESCE(CAST("b" AS TEXT), '__null__')
    ELSE '__other__'
  END
