-- profile
SELECT
  DATE_ADD(
    '0000-01-01 00:00:00',
    INTERVAL (TIMESTAMPDIFF(HOUR, '0000-01-01 00:00:00', `ts`)) HOUR
  ) AS bucket,
  COUNT(*) AS row_count,
  COUNT(`i`) AS c0_nonnull,
  COUNT(DISTINCT `i`) AS c0_distinct,
  MIN(`i`) AS c0_min,
  MAX(`i`) AS c0_max,
  AVG(`i`) AS c0_mean,
  STDDEV_SAMP(`i`) AS c0_stddev,
  COUNT(CASE WHEN `i` = 0 THEN 1 END) AS c0_zero,
  COUNT(CASE WHEN `i` < 0 THEN 1 END) AS c0_negative,
  COUNT(`f`) AS c1_nonnull,
  COUNT(DISTINCT `f`) AS c1_distinct,
  MIN(`f`) AS c1_min,
  MAX(`f`) AS c1_max,
  AVG(`f`) AS c1_mean,
  STDDEV_SAMP(`f`) AS c1_stddev,
  COUNT(CASE WHEN `f` = 0 THEN 1 END) AS c1_zero,
  COUNT(CASE WHEN `f` < 0 THEN 1 END) AS c1_negative,
  COUNT(`d`) AS c2_nonnull,
  COUNT(DISTINCT `d`) AS c2_distinct,
  MIN(`d`) AS c2_min,
  MAX(`d`) AS c2_max,
  AVG(`d`) AS c2_mean,
  STDDEV_SAMP(`d`) AS c2_stddev,
  COUNT(CASE WHEN `d` = 0 THEN 1 END) AS c2_zero,
  COUNT(CASE WHEN `d` < 0 THEN 1 END) AS c2_negative,
  COUNT(`s`) AS c3_nonnull,
  COUNT(DISTINCT `s`) AS c3_distinct,
  MIN(CHAR_LENGTH(`s`)) AS c3_len_min,
  MAX(CHAR_LENGTH(`s`)) AS c3_len_max,
  AVG(CHAR_LENGTH(`s`)) AS c3_len_mean,
  COUNT(CASE WHEN `s` = '' THEN 1 END) AS c3_empty,
  COUNT(`b`) AS c4_nonnull,
  COUNT(CASE WHEN `b` THEN 1 END) AS c4_true,
  COUNT(`ts`) AS c5_nonnull,
  MIN(`ts`) AS c5_min,
  MAX(`ts`) AS c5_max,
  COUNT(CASE WHEN `ts` > CAST('2024-03-03 12:00:00' AS DATETIME) THEN 1 END) AS c5_future,
  COUNT(`dt`) AS c6_nonnull,
  MIN(`dt`) AS c6_min,
  MAX(`dt`) AS c6_max,
  COUNT(CASE WHEN `dt` > CAST('2024-03-03' AS DATE) THEN 1 END) AS c6_future,
  COUNT(`tm`) AS c7_nonnull,
  COUNT(DISTINCT `tm`) AS c7_distinct,
  COUNT(`allnull`) AS c8_nonnull,
  COUNT(DISTINCT `allnull`) AS c8_distinct,
  MIN(`allnull`) AS c8_min,
  MAX(`allnull`) AS c8_max,
  AVG(`allnull`) AS c8_mean,
  STDDEV_SAMP(`allnull`) AS c8_stddev,
  COUNT(CASE WHEN `allnull` = 0 THEN 1 END) AS c8_zero,
  COUNT(CASE WHEN `allnull` < 0 THEN 1 END) AS c8_negative
FROM `s`.`t`
WHERE
  `ts` >= CAST('2024-03-01 00:00:00' AS DATETIME)
  AND `ts` < CAST('2024-03-03 00:00:00' AS DATETIME)
GROUP BY
  DATE_ADD(
    '0000-01-01 00:00:00',
    INTERVAL (TIMESTAMPDIFF(HOUR, '0000-01-01 00:00:00', `ts`)) HOUR
  )

-- profile, sampled, no bucket
SELECT COUNT(*) AS row_count, COUNT(`i`) AS c0_nonnull, COUNT(DISTINCT `i`) AS c0_distinct, MIN(`i`) AS c0_min, MAX(`i`) AS c0_max, AVG(`i`) AS c0_mean, STDDEV_SAMP(`i`) AS c0_stddev, COUNT(CASE WHEN `i` = 0 THEN 1 END) AS c0_zero, COUNT(CASE WHEN `i` < 0 THEN 1 END) AS c0_negative, COUNT(`f`) AS c1_nonnull, COUNT(DISTINCT `f`) AS c1_distinct, MIN(`f`) AS c1_min, MAX(`f`) AS c1_max, AVG(`f`) AS c1_mean, STDDEV_SAMP(`f`) AS c1_stddev, COUNT(CASE WHEN `f` = 0 THEN 1 END) AS c1_zero, COUNT(CASE WHEN `f` < 0 THEN 1 END) AS c1_negative FROM `s`.`t`

-- categorical (union)
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
    DENSE_RANK() OVER (
      PARTITION BY col
      ORDER BY total DESC, CASE WHEN value IS NULL THEN 1 ELSE 0 END, value
    ) AS r
  FROM (
    SELECT
      bucket,
      col,
      value,
      n,
      SUM(n) OVER (PARTITION BY col, value) AS total
    FROM (
      SELECT
        *
      FROM (
        SELECT
          DATE_ADD(
            '0000-01-01 00:00:00',
            INTERVAL (TIMESTAMPDIFF(HOUR, '0000-01-01 00:00:00', `ts`)) HOUR
          ) AS bucket,
          0 AS col,
          COALESCE(`s`, '__null__') AS value,
          COUNT(*) AS n
        FROM `s`.`t`
        WHERE
          `ts` >= CAST('2024-03-01 00:00:00' AS DATETIME)
          AND `ts` < CAST('2024-03-03 00:00:00' AS DATETIME)
        GROUP BY
          DATE_ADD(
            '0000-01-01 00:00:00',
            INTERVAL (TIMESTAMPDIFF(HOUR, '0000-01-01 00:00:00', `ts`)) HOUR
          ),
          COALESCE(`s`, '__null__')
        UNION ALL
        SELECT
          DATE_ADD(
            '0000-01-01 00:00:00',
            INTERVAL (TIMESTAMPDIFF(HOUR, '0000-01-01 00:00:00', `ts`)) HOUR
          ) AS bucket,
          1 AS col,
          COALESCE(CAST(`b` AS CHAR), '__null__') AS value,
          COUNT(*) AS n
        FROM `s`.`t`
        WHERE
          `ts` >= CAST('2024-03-01 00:00:00' AS DATETIME)
          AND `ts` < CAST('2024-03-03 00:00:00' AS DATETIME)
        GROUP BY
          DATE_ADD(
            '0000-01-01 00:00:00',
            INTERVAL (TIMESTAMPDIFF(HOUR, '0000-01-01 00:00:00', `ts`)) HOUR
          ),
          COALESCE(CAST(`b` AS CHAR), '__null__')
      ) AS u
    ) AS l
  ) AS t
) AS k
GROUP BY
  bucket,
  col,
  CASE WHEN r <= 5 THEN value ELSE '__other__' END

-- segments
SELECT
  `dt` AS bucket,
  CASE
    WHEN CONCAT('s=', COALESCE(`s`, '__null__'), '|b=', COALESCE(CAST(`b` AS CHAR), '__null__')) IN (
      SELECT
        k
      FROM (
        SELECT
          CONCAT('s=', COALESCE(`s`, '__null__'), '|b=', COALESCE(CAST(`b` AS CHAR), '__null__')) AS k
        FROM `s`.`t`
        WHERE
          `dt` >= CAST('2024-03-01' AS DATE) AND `dt` < CAST('2024-03-03' AS DATE)
        GROUP BY
          CONCAT('s=', COALESCE(`s`, '__null__'), '|b=', COALESCE(CAST(`b` AS CHAR), '__null__'))
        ORDER BY
          COUNT(*) DESC
        LIMIT 10
      ) AS s
    )
    THEN CONCAT('s=', COALESCE(`s`, '__null__'), '|b=', COALESCE(CAST(`b` AS CHAR), '__null__'))
    ELSE '__other__'
  END AS segment,
  COUNT(*) AS row_count,
  COUNT(`i`) AS c0_nonnull,
  AVG(`i`) AS c0_mean,
  COUNT(`f`) AS c1_nonnull,
  AVG(`f`) AS c1_mean,
  COUNT(`d`) AS c2_nonnull,
  AVG(`d`) AS c2_mean,
  COUNT(`ts`) AS c3_nonnull,
  COUNT(`dt`) AS c4_nonnull,
  COUNT(`tm`) AS c5_nonnull,
  COUNT(`allnull`) AS c6_nonnull,
  AVG(`allnull`) AS c6_mean
FROM `s`.`t`
WHERE
  `dt` >= CAST('2024-03-01' AS DATE) AND `dt` < CAST('2024-03-03' AS DATE)
GROUP BY
  `dt`,
  CASE
    WHEN CONCAT('s=', COALESCE(`s`, '__null__'), '|b=', COALESCE(CAST(`b` AS CHAR), '__null__')) IN (
      SELECT
        k
      FROM (
        SELECT
          CONCAT('s=', COALESCE(`s`, '__null__'), '|b=', COALESCE(CAST(`b` AS CHAR), '__null__')) AS k
        FROM `s`.`t`
        WHERE
          `dt` >= CAST('2024-03-01' AS DATE) AND `dt` < CAST('2024-03-03' AS DATE)
        GROUP BY
          CONCAT('s=', COALESCE(`s`, '__null__'), '|b=', COALESCE(CAST(`b` AS CHAR), '__null__'))
        ORDER BY
          COUNT(*) DESC
        LIMIT 10
      ) AS s
    )
    THEN CONCAT('s=', COALESCE(`s`, '__null__'), '|b=', COALESCE(CAST(`b` AS CHAR), '__null__'))
    ELSE '__other__'
  END
