<?php
// Drives MatomoTracker.php (matomo-org/matomo-php-tracker) through the calls a shop makes, against the
// URL given as the first argument. Run behind a recording proxy to capture requests.jsonl (README.md).
//   php capture.php http://PROXY/ path/to/MatomoTracker.php
require $argv[2];
$url = $argv[1];
$token = 'php-tracker-token';
$chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

$t = new MatomoTracker(1, $url);
$t->setTokenAuth($token);
$t->setIp('192.0.2.60');
$t->setUserAgent($chrome);
$t->setForceVisitDateTime('2026-11-20 10:00:00');
$t->setUrl('https://example.com/shirt');
$t->setEcommerceView('SKU1', 'Shirt', 'Clothes', 25);
$t->doTrackPageView('Shirt');
$t->setForceVisitDateTime('2026-11-20 10:01:00');
$t->doTrackContentImpression('Banner', 'spring.png', 'https://example.com/sale');
$t->setForceVisitDateTime('2026-11-20 10:02:00');
$t->doTrackContentInteraction('click', 'Banner', 'spring.png', 'https://example.com/sale');
$t->setForceVisitDateTime('2026-11-20 10:03:00');
$t->setUrl('https://example.com/cart');
$t->addEcommerceItem('SKU1', 'Shirt for bob@example.org', 'Clothes', 25, 2);
$t->doTrackEcommerceCartUpdate(50);
$t->setForceVisitDateTime('2026-11-20 10:05:00');
$t->setUrl('https://example.com/thanks');
$t->addEcommerceItem('SKU1', 'Shirt for bob@example.org', 'Clothes', 25, 2);
$t->addEcommerceItem('SKU2', 'Socks', ['Clothes', 'Sale'], 5, 1);
$t->doTrackEcommerceOrder('A-100', 55, 55, 0, 0, 0);
$t->setForceVisitDateTime('2026-11-20 10:06:00');
$t->doTrackEcommerceOrder('A-100', 55);
$t->setForceVisitDateTime('2026-11-20 10:07:00');
$t->doTrackCrash('x is undefined', 'TypeError', 'checkout', "at pay (app.js:10:5)\nat main (app.js:1:1)", 'https://example.com/app.js', 10, 5);
$t->setForceVisitDateTime('2026-11-20 10:08:00');
$t->setUrl('https://example.com/find');
$t->doTrackSiteSearch('tents', 'Camping', 4);
$t->setForceVisitDateTime('2026-11-20 10:09:00');
$t->setCustomDimension(1, 'Pro');
$t->doTrackEvent('Video', 'Play', 'Intro', 12.5);

// A second visitor through bulk tracking.
$b = new MatomoTracker(1, $url);
$b->enableBulkTracking();
$b->setTokenAuth($token);
$b->setIp('192.0.2.61');
$b->setUserAgent($chrome);
$b->setForceVisitDateTime('2026-11-20 11:00:00');
$b->setUrl('https://example.com/');
$b->doTrackPageView('Home');
$b->setForceVisitDateTime('2026-11-20 11:01:00');
$b->setUrl('https://example.com/about');
$b->doTrackPageView('About');
$b->doBulkTrack();
