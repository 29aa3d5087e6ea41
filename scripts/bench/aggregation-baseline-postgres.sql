-- The plain-PostgreSQL baseline of the aggregation benchmark (postgres.sh): aggregation-baseline.sql's
-- GROUP BY queries in PostgreSQL's dialect, one per report dimension, straight on the `hits` table, giving
-- per site, UTC day and label the hits and the distinct visitors, written to a table as Tally writes its
-- aggregates. Like that file, a lower bound on what plain SQL needs for these reports. `WHERE_HITS` is
-- replaced by the script: `TRUE` for everything, or one site-day's condition.
DROP TABLE IF EXISTS base_rows;
CREATE TABLE base_rows (site_id BIGINT, day BIGINT, report TEXT, label TEXT, hits BIGINT, visitors BIGINT);

INSERT INTO base_rows SELECT site_id, ts / 86400000, 'summary', '', COUNT(*) FILTER (WHERE kind = 'pageview'), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'referrer_types', COALESCE(ref_type, 'direct'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'referrers', COALESCE(ref_name, '(direct)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'campaigns', COALESCE(cmp_name, cmp_source, '(not set)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS AND ref_type = 'campaign' GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'countries', COALESCE(country, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'regions', COALESCE(country || '-' || region, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'cities', COALESCE(city || ', ' || country, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'browsers', COALESCE(browser || ' ' || browser_version, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'os', COALESCE(os || COALESCE(' ' || os_version, ''), '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'devices', COALESCE(device, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'resolutions', COALESCE(resolution, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'languages', COALESCE(language, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'hours', to_char(to_timestamp(ts / 1000) AT TIME ZONE 'UTC', 'HH24'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'pages', COALESCE(url, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS AND kind = 'pageview' GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'page_titles', COALESCE(title, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS AND kind = 'pageview' GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'events', COALESCE(e_c || ' / ' || e_a, e_c, e_a, ''), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS AND kind = 'event' GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'site_search', LOWER(COALESCE(search, '')), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS AND kind = 'site_search' GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'outlinks', COALESCE(link, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS AND kind = 'outlink' GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'downloads', COALESCE(link, '(unknown)'), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS AND kind = 'download' GROUP BY 1, 2, 4;
INSERT INTO base_rows SELECT site_id, ts / 86400000, 'goals', 'goal ' || COALESCE(goal_id, 0), COUNT(*), COUNT(DISTINCT visitor_id)
    FROM hits WHERE WHERE_HITS AND kind = 'goal' GROUP BY 1, 2, 4;
