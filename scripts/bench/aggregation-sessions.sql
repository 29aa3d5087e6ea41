-- The full plain-SQLite equivalent of tally-central's daily aggregation, kept for reference: the same
-- figures (visits split at 30-minute gaps or new_visit, actions, bounces, durations, entry and exit pages,
-- every report's rows, unique visitors per day) from the same `hits` table with window functions and
-- GROUP BY, written to tables as Tally writes its aggregates. Days are UTC days (the benchmark's sites are
-- in UTC). Replace `WHERE_HITS` with `1` for everything, or with one site-day's condition. On the 10-million
-- hit benchmark store it ran for more than 10 minutes (docs/performance.md), so the benchmark compares
-- with the cheaper aggregation-baseline.sql instead.
-- The synthetic data holds no bot or aggregate-only records, which Tally would count separately.
PRAGMA temp_store = MEMORY;
DROP TABLE IF EXISTS temp.base_hits;
DROP TABLE IF EXISTS temp.base_visits;
DROP TABLE IF EXISTS base_rows;
DROP TABLE IF EXISTS base_visitors;

CREATE TEMP TABLE base_hits AS
SELECT *, SUM(starts) OVER (PARTITION BY site_id, day, visitor_id ORDER BY ts, kind ROWS UNBOUNDED PRECEDING) AS visit
FROM (
    SELECT site_id, ts / 86400000 AS day, visitor_id, ts, kind, url, title, e_c, e_a, e_v, search, link, goal_id, revenue,
           ref_type, ref_name, cmp_name, cmp_source, country, region, city, browser, browser_version, os, os_version,
           device, resolution, language,
           CASE WHEN new_visit = 1 OR ts - LAG(ts) OVER (PARTITION BY site_id, ts / 86400000, visitor_id ORDER BY ts, kind) > 1800000
                OR LAG(ts) OVER (PARTITION BY site_id, ts / 86400000, visitor_id ORDER BY ts, kind) IS NULL THEN 1 ELSE 0 END AS starts
    FROM hits
    WHERE WHERE_HITS AND is_bot = 0 AND aggregate_only = 0 AND visitor_id IS NOT NULL
);

-- One row per visit, with its first hit's attributes (SQLite takes bare columns from the MIN(ts) row).
CREATE TEMP TABLE base_visits AS
SELECT site_id, day, visitor_id, visit, MIN(ts) AS first_ts, (MAX(ts) - MIN(ts)) / 1000 AS seconds,
       SUM(kind IN ('pageview', 'event', 'site_search', 'outlink', 'download')) AS actions,
       SUM(kind = 'pageview') AS pageviews,
       COUNT(DISTINCT CASE WHEN kind = 'pageview' THEN COALESCE(url, '(unknown)') END) AS unique_pageviews,
       ref_type, ref_name, cmp_name, cmp_source, country, region, city, browser, browser_version, os, os_version,
       device, resolution, language
FROM base_hits GROUP BY site_id, day, visitor_id, visit;

CREATE TABLE base_rows (site_id, day, report, label, visits, actions, bounces, seconds, pageviews, unique_pageviews, hits, value);

INSERT INTO base_rows
SELECT site_id, day, 'summary', '', COUNT(*), SUM(actions), SUM(actions <= 1), SUM(seconds), SUM(pageviews), SUM(unique_pageviews), 0, 0
FROM base_visits GROUP BY site_id, day;

INSERT INTO base_rows
SELECT site_id, day, report, label, COUNT(*), SUM(actions), SUM(actions <= 1), SUM(seconds), 0, 0, 0, 0
FROM (
    SELECT site_id, day, 'referrer_types' AS report, COALESCE(ref_type, 'direct') AS label, actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'referrers', COALESCE(ref_name, CASE WHEN COALESCE(ref_type, 'direct') = 'direct' THEN '(direct)' ELSE '(unknown)' END), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'campaigns', COALESCE(cmp_name, cmp_source, '(not set)'), actions, seconds FROM base_visits WHERE ref_type = 'campaign'
    UNION ALL SELECT site_id, day, 'countries', COALESCE(country, '(unknown)'), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'regions', COALESCE(COALESCE(country, '?') || '-' || region, '(unknown)'), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'cities', COALESCE(city || ', ' || COALESCE(country, '?'), '(unknown)'), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'browsers', COALESCE(NULLIF(TRIM(COALESCE(browser, '') || ' ' || COALESCE(browser_version, '')), ''), '(unknown)'), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'os', COALESCE(NULLIF(TRIM(COALESCE(os, '') || ' ' || COALESCE(os_version, '')), ''), '(unknown)'), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'devices', COALESCE(device, '(unknown)'), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'resolutions', COALESCE(resolution, '(unknown)'), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'languages', COALESCE(language, '(unknown)'), actions, seconds FROM base_visits
    UNION ALL SELECT site_id, day, 'hours', strftime('%H', first_ts / 1000, 'unixepoch'), actions, seconds FROM base_visits
)
GROUP BY site_id, day, report, label;

-- Entry and exit pages: each visit's first and last pageview.
INSERT INTO base_rows
SELECT e.site_id, e.day, 'entry_pages', COALESCE(e.url, '(unknown)'), COUNT(*), SUM(v.actions), SUM(v.actions <= 1), SUM(v.seconds), 0, 0, 0, 0
FROM (SELECT site_id, day, visitor_id, visit, url, MIN(ts) FROM base_hits WHERE kind = 'pageview' GROUP BY site_id, day, visitor_id, visit) AS e
JOIN base_visits AS v USING (site_id, day, visitor_id, visit)
GROUP BY e.site_id, e.day, COALESCE(e.url, '(unknown)');
INSERT INTO base_rows
SELECT site_id, day, 'exit_pages', COALESCE(url, '(unknown)'), COUNT(*), 0, 0, 0, 0, 0, 0, 0
FROM (SELECT site_id, day, visitor_id, visit, url, MAX(ts) FROM base_hits WHERE kind = 'pageview' GROUP BY site_id, day, visitor_id, visit)
GROUP BY site_id, day, COALESCE(url, '(unknown)');

-- Action reports: totals, and for each label the number of visits it occurred in.
INSERT INTO base_rows
SELECT site_id, day, report, label,
       CASE WHEN report IN ('pages', 'page_titles') THEN 0 ELSE COUNT(DISTINCT visitor_id || ':' || visit) END, 0, 0, 0,
       CASE WHEN report IN ('pages', 'page_titles') THEN COUNT(*) ELSE 0 END,
       CASE WHEN report IN ('pages', 'page_titles') THEN COUNT(DISTINCT visitor_id || ':' || visit) ELSE 0 END,
       CASE WHEN report IN ('pages', 'page_titles') THEN 0 ELSE COUNT(*) END,
       TOTAL(value)
FROM (
    SELECT site_id, day, visitor_id, visit, 'pages' AS report, COALESCE(url, '(unknown)') AS label, 0 AS value FROM base_hits WHERE kind = 'pageview'
    UNION ALL SELECT site_id, day, visitor_id, visit, 'page_titles', COALESCE(title, '(unknown)'), 0 FROM base_hits WHERE kind = 'pageview'
    UNION ALL SELECT site_id, day, visitor_id, visit, 'events', CASE WHEN e_c IS NOT NULL AND e_a IS NOT NULL THEN e_c || ' / ' || e_a ELSE COALESCE(e_c, e_a, '') END, COALESCE(e_v, 0) FROM base_hits WHERE kind = 'event'
    UNION ALL SELECT site_id, day, visitor_id, visit, 'site_search', COALESCE(NULLIF(LOWER(COALESCE(search, '')), ''), '(empty)'), 0 FROM base_hits WHERE kind = 'site_search'
    UNION ALL SELECT site_id, day, visitor_id, visit, 'outlinks', COALESCE(link, '(unknown)'), 0 FROM base_hits WHERE kind = 'outlink'
    UNION ALL SELECT site_id, day, visitor_id, visit, 'downloads', COALESCE(link, '(unknown)'), 0 FROM base_hits WHERE kind = 'download'
    UNION ALL SELECT site_id, day, visitor_id, visit, 'goals', 'goal ' || COALESCE(goal_id, 0), COALESCE(revenue, 0) FROM base_hits WHERE kind = 'goal'
)
GROUP BY site_id, day, report, label;

CREATE TABLE base_visitors AS
SELECT site_id, day, COUNT(DISTINCT visitor_id) AS unique_visitors FROM base_hits GROUP BY site_id, day;

-- What the script compares with Tally's daily_rows: visits, pageviews and rows per site.
SELECT 'check', site_id, SUM(visits) FILTER (WHERE report = 'summary'), SUM(pageviews) FILTER (WHERE report = 'summary'), COUNT(*)
FROM base_rows GROUP BY site_id ORDER BY site_id;
