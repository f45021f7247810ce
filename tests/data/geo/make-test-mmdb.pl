#!/usr/bin/perl
# make-test-mmdb.pl - build tests/data/geo/test-city.mmdb, a tiny database in
# the GeoIP2-City layout for Signpost's geolocation / latency / geoproximity
# routing tests. The generated file is committed next to this script, so the
# tests never need the Perl modules or a downloaded database.
#
# Regenerate (Debian / Ubuntu):
#   apt-get install -y libmaxmind-db-writer-perl mmdb-bin
#   cd tests/data/geo && perl make-test-mmdb.pl
#   mmdblookup --file test-city.mmdb --ip 127.0.0.2      # spot check
#
# Optional first argument: output path (default: test-city.mmdb next to this
# script). The output is deterministic apart from the build_epoch metadata,
# which is pinned below so that regenerating does not change the file.
#
# Every network and its expected data is listed in README.md; keep the two in
# sync, because tests assert on ECS scope prefixes derived from these networks.

use strict;
use warnings;
use utf8;

use File::Basename qw(dirname);
use File::Spec;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV
    // File::Spec->catfile( dirname( File::Spec->rel2abs($0) ), 'test-city.mmdb' );

# Value types for every map key that appears in a record (the writer needs an
# explicit type per key).
my %types = (
    continent    => 'map',
    country      => 'map',
    subdivisions => [ 'array', 'map' ],
    location     => 'map',
    names        => 'map',
    en           => 'utf8_string',
    code         => 'utf8_string',
    iso_code     => 'utf8_string',
    latitude     => 'double',
    longitude    => 'double',
);

# ---------------------------------------------------------------------------
# Building blocks.

my %continent = (
    EU => 'Europe',
    NA => 'North America',
    AS => 'Asia',
    OC => 'Oceania',
    SA => 'South America',
    AF => 'Africa',
);

my %country = (
    DE => 'Germany',
    US => 'United States',
    FR => 'France',
    JP => 'Japan',
    AU => 'Australia',
    BR => 'Brazil',
    ZA => 'South Africa',
    GB => 'United Kingdom',
);

my %subdivision = (
    'DE-BY'  => 'Bavaria',
    'US-CA'  => 'California',
    'US-NY'  => 'New York',
    'JP-13'  => 'Tokyo',
    'AU-NSW' => 'New South Wales',
    'BR-SP'  => 'São Paulo',
    'GB-ENG' => 'England',
);

# record(continent, country|undef, subdivision|undef, [lat, lon]|undef)
sub record {
    my ( $cont, $cc, $sub, $loc ) = @_;
    my %r = (
        continent => {
            code  => $cont,
            names => { en => $continent{$cont} },
        },
    );
    if ( defined $cc ) {
        $r{country} = { iso_code => $cc, names => { en => $country{$cc} } };
    }
    if ( defined $sub ) {
        my $name = $subdivision{"$cc-$sub"} // die "unknown subdivision $cc-$sub";
        $r{subdivisions} = [ { iso_code => $sub, names => { en => $name } } ];
    }
    if ( defined $loc ) {
        $r{location} = { latitude => 0.0 + $loc->[0], longitude => 0.0 + $loc->[1] };
    }
    return \%r;
}

my %place = (
    munich        => record( 'EU', 'DE', 'BY',  [ 48.14,   11.58 ] ),
    san_francisco => record( 'NA', 'US', 'CA',  [ 37.77, -122.42 ] ),
    new_york      => record( 'NA', 'US', 'NY',  [ 40.71,  -74.01 ] ),
    paris         => record( 'EU', 'FR', undef, [ 48.86,    2.35 ] ),
    tokyo         => record( 'AS', 'JP', '13',  [ 35.68,  139.69 ] ),
    sydney        => record( 'OC', 'AU', 'NSW', [ -33.87, 151.21 ] ),
    sao_paulo     => record( 'SA', 'BR', 'SP',  [ -23.55, -46.63 ] ),
    johannesburg  => record( 'AF', 'ZA', undef, [ -26.2,   28.05 ] ),
    london        => record( 'EU', 'GB', 'ENG', [ 51.51,   -0.13 ] ),
    europe_only   => record( 'EU', undef, undef, undef ),
);

# ---------------------------------------------------------------------------
# Networks. None of them overlap, so insertion order does not matter.
# Deliberately unmapped: 127.0.0.0/32, 127.0.0.9 and up, 10.0.0.0/8, and
# everything else not listed here.

my @networks = (
    # Loopback query sources (one /32 per place).
    [ '127.0.0.1/32'      => 'munich' ],
    [ '127.0.0.2/32'      => 'san_francisco' ],
    [ '127.0.0.3/32'      => 'new_york' ],
    [ '127.0.0.4/32'      => 'paris' ],
    [ '127.0.0.5/32'      => 'tokyo' ],
    [ '127.0.0.6/32'      => 'sydney' ],
    [ '127.0.0.7/32'      => 'sao_paulo' ],
    [ '127.0.0.8/32'      => 'johannesburg' ],

    # EDNS Client Subnet test networks, with varying prefix lengths so that
    # the scope prefix returned differs per network.
    [ '192.0.2.0/24'      => 'munich' ],
    [ '198.51.100.0/24'   => 'san_francisco' ],
    [ '203.0.113.0/25'    => 'new_york' ],
    [ '203.0.113.128/25'  => 'paris' ],
    [ '100.64.0.0/16'     => 'tokyo' ],
    [ '100.65.0.0/20'     => 'sydney' ],
    [ '100.112.0.0/12'    => 'sao_paulo' ],      # 100.112.0.0 - 100.127.255.255
    [ '100.80.0.0/16'     => 'johannesburg' ],
    [ '100.100.0.0/16'    => 'london' ],
    [ '100.101.0.0/16'    => 'europe_only' ],    # continent only, no country
    [ '2001:db8:1::/48'   => 'munich' ],
    [ '2001:db8:2::/48'   => 'san_francisco' ],
);

my $tree = MaxMind::DB::Writer::Tree->new(
    database_type => 'GeoIP2-City',
    description   => {
        en => 'Signpost test database (GeoIP2-City layout, synthetic data)',
    },
    languages  => ['en'],
    ip_version => 6,
    record_size => 28,
    # IPv4 networks are stored under ::/96 (where readers such as libmaxminddb
    # and the Rust maxminddb crate look up plain IPv4 addresses); aliasing also
    # makes ::ffff:a.b.c.d (IPv4-mapped) addresses resolve to the same data.
    alias_ipv6_to_ipv4 => 1,
    # Every network here is reserved (loopback, documentation, CGNAT); the
    # writer silently drops reserved networks unless this is turned off.
    remove_reserved_networks => 0,
    merge_strategy           => 'none',
    map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key '$_[0]'" },
);

# Pin build_epoch (2024-01-01T00:00:00Z) so regenerating produces a
# byte-identical file. _set_build_epoch is the writer's (private) hook for this;
# if a future version drops it, the file just gets the current time instead.
$tree->_set_build_epoch(1704067200) if $tree->can('_set_build_epoch');

for my $n (@networks) {
    my ( $net, $name ) = @$n;
    $tree->insert_network( $net, $place{$name} // die "unknown place $name" );
}

open my $fh, '>:raw', $out or die "cannot write $out: $!";
$tree->write_tree($fh);
close $fh or die "cannot close $out: $!";
print "wrote $out\n";
