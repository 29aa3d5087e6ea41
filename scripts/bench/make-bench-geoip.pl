#!/usr/bin/env perl
# Writes a GeoIP2-City-shaped database of realistic size for the edge benchmark:
#   perl scripts/bench/make-bench-geoip.pl OUT.mmdb [NETWORKS]
# NETWORKS (default 50000) /20 networks spread over public IPv4 space and /40 networks in 2a00::/16,
# each with a country, a subdivision and a city, so lookups walk a tree as deep as a commercial
# database's. The random generator is seeded: the same command writes the same file.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: make-bench-geoip.pl OUT.mmdb [NETWORKS]\n";
my $count = shift @ARGV // 50000;
srand(20261124);

my %types = (
    city => 'map', country => 'map', subdivisions => ['array', 'map'],
    iso_code => 'utf8_string', names => 'map', en => 'utf8_string', geoname_id => 'uint32',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 28, database_type => 'GeoIP2-City', languages => ['en'],
    description => { en => 'Tally benchmark GeoIP database' },
    remove_reserved_networks => 0, alias_ipv6_to_ipv4 => 1,
    map_key_type_callback => sub { $types{ $_[0] } },
);

my @countries = qw(DE FR GB US JP NL SE ES IT PL BR IN CN CA AU KR MX AT CH BE DK NO FI PT IE CZ RO HU GR TR);
for my $n (1 .. $count) {
    my $country = $countries[int(rand(@countries))];
    my $region = sprintf('%s-%02d', $country, int(rand(20)));
    my $place = {
        country      => { iso_code => $country, names => { en => $country } },
        subdivisions => [ { iso_code => substr($region, 3), names => { en => $region } } ],
        city         => { names => { en => "City $n" } },
    };
    if ($n % 10) {
        my ($a, $b, $c) = (1 + int(rand(222)), int(rand(256)), int(rand(16)) * 16);
        $a = 11 if $a == 10 || $a == 127;
        $tree->insert_network("$a.$b.$c.0/20", $place);
    } else {
        $tree->insert_network(sprintf('2a00:%x:%x::/40', int(rand(65536)), int(rand(256)) * 256), $place);
    }
}
open my $fh, '>:raw', $out or die "cannot write $out: $!\n";
$tree->write_tree($fh);
close $fh or die "cannot close $out: $!\n";
