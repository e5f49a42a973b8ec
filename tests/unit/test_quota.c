/* The per-client quota key: IPv4 as is, IPv6 by its /64, IPv4-mapped as IPv4. */
#include "config.h"
#include "quota.h"
#include "tap.h"

#include <string.h>

static const char *key(const char *addr)
{
	static char out[QUOTA_KEY_MAX];

	return quota_client_key(addr, out, sizeof out) == 0 ? out : NULL;
}

int main(void)
{
	char small[8];

	is_str(key("192.0.2.7"), "192.0.2.7", "an IPv4 address is its own key");
	is_str(key("127.0.0.1"), "127.0.0.1", "loopback IPv4");
	is_str(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64", "an IPv6 address counts by its /64");
	is_str(key("2001:db8:1:2::1"), "2001:db8:1:2::/64", "another host of the same /64 ...");
	is_str(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64", "... shares the key");
	is_str(key("2001:db8:1:3::1"), "2001:db8:1:3::/64", "the next /64 has a key of its own");
	is_str(key("2001:0DB8:0001:0002:0000:0000:0000:0001"), "2001:db8:1:2::/64", "spelling does not matter");
	is_str(key("::1"), "::/64", "IPv6 loopback");
	is_str(key("::ffff:192.0.2.7"), "192.0.2.7", "an IPv4-mapped address counts as the IPv4 client");
	is_str(key("fe80::1"), "fe80::/64", "link-local");
	ok(key("") == NULL, "an empty address is refused");
	ok(key("localhost") == NULL, "a name is refused");
	ok(key("192.0.2.7 ") == NULL, "trailing junk is refused");
	ok(key("1.2.3.4.5") == NULL, "a malformed IPv4 address is refused");
	ok(key("2001:db8::1::2") == NULL, "a malformed IPv6 address is refused");
	ok(key("192.0.2.7, 10.0.0.1") == NULL, "a forwarded-for list is not an address");
	ok(quota_client_key("2001:db8:1:2::1", small, sizeof small) < 0, "a key that does not fit is an error");
	return done_testing();
}
