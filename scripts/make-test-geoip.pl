#!/usr/bin/env perl
# Writes a small GeoIP2-City-shaped database for tests, the demo and benchmarks:
#   perl scripts/make-test-geoip.pl OUT.mmdb
# The networks are nested on purpose: 203.0.113.0/24 lies inside 203.0.0.0/16 and maps to another city,
# so a lookup on a masked IP (203.0.0.0) gives a different answer from the lookup on the full IP.
# Likewise 2001:db8:1:2::/64 lies inside 2001:db8::/32; the default IPv6 mask (80 bits) leaves 48.
# They are documentation ranges (RFC 5737, RFC 3849), so reserved-network removal is turned off.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: make-test-geoip.pl OUT.mmdb\n";

my %types = (
    city         => 'map',
    country      => 'map',
    subdivisions => ['array', 'map'],
    iso_code     => 'utf8_string',
    names        => 'map',
    en           => 'utf8_string',
    geoname_id   => 'uint32',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => 'GeoIP2-City',
    languages                => ['en'],
    description              => { en => 'Tally test GeoIP database' },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
    map_key_type_callback    => sub { $types{ $_[0] } },
);

sub place {
    my ($country, $region, $city) = @_;
    return {
        country      => { iso_code => $country, names => { en => $country } },
        subdivisions => [ { iso_code => $region, names => { en => $region } } ],
        city         => { names => { en => $city } },
    };
}

# Wider networks first: a later, more specific insert takes over its part of the wider one.
$tree->insert_network('203.0.0.0/16',     place('DE', 'BE', 'Berlin'));
$tree->insert_network('203.0.113.0/24',   place('FR', 'IDF', 'Paris'));
$tree->insert_network('198.51.100.0/24',  place('JP', '13', 'Tokyo'));
$tree->insert_network('192.0.2.0/24',     place('US', 'CA', 'San Francisco'));
$tree->insert_network('2001:db8::/32',    place('NL', 'NH', 'Amsterdam'));
$tree->insert_network('2001:db8:1:2::/64', place('SE', 'AB', 'Stockholm'));

open my $fh, '>:raw', $out or die "cannot write $out: $!\n";
$tree->write_tree($fh);
close $fh or die "cannot close $out: $!\n";
