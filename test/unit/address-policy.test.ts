import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DEFAULT_SHIM_ALLOW_NETWORKS } from "../../src/config/shim.ts";
import { createAddressPolicy, type AddressRule } from "../../src/http/address-policy.ts";
import { canonicalAddress, parseCidrText } from "../../src/model/network-address.ts";

const policy = createAddressPolicy({
  allowNetworks: DEFAULT_SHIM_ALLOW_NETWORKS.map(parseCidrText),
  consulHost: "10.9.9.9",
  consulPort: 18500,
  machineAddresses: ["192.168.7.7", "fd12::7"],
});

/** The rule refusing `address:port`, or "allowed". */
function rule(address: string, port = 8080): AddressRule | "allowed" {
  return policy.check(canonicalAddress(address), port)?.rule ?? "allowed";
}

describe("address classes that are never a backend", () => {
  test("unspecified addresses are refused", () => {
    for (const address of ["0.0.0.0", "0.1.2.3", "::", "0:0:0:0:0:0:0:0"]) {
      assert.equal(rule(address), "unspecified", address);
    }
  });

  test("the broadcast address is refused", () => {
    assert.equal(rule("255.255.255.255"), "broadcast");
  });

  test("multicast is refused in both families", () => {
    for (const address of ["224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1234"]) {
      assert.equal(rule(address), "multicast", address);
    }
  });

  test("link-local is refused, the cloud metadata address included", () => {
    for (const address of ["169.254.169.254", "169.254.0.1", "fe80::1", "febf::1"]) {
      assert.equal(rule(address), "link-local", address);
    }
    assert.match(
      policy.check("169.254.169.254", 80)?.message ?? "",
      /^169\.254\.169\.254 is link-local .*metadata/,
    );
  });

  test("the classes apply even when every network is allowed", () => {
    const open = createAddressPolicy({
      allowNetworks: ["0.0.0.0/0", "::/0"].map(parseCidrText),
      consulHost: "127.0.0.1",
      consulPort: 8500,
    });
    assert.equal(open.check("224.0.0.1", 80)?.rule, "multicast");
    assert.equal(open.check("8.8.8.8", 80), undefined);
  });
});

describe("allowed networks", () => {
  test("loopback and private ranges are allowed by default", () => {
    for (const address of ["127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "172.16.0.1"]) {
      assert.equal(rule(address), "allowed", address);
    }
    for (const address of ["172.31.255.254", "192.168.1.1", "fc00::1", "fd00::1"]) {
      assert.equal(rule(address), "allowed", address);
    }
  });

  test("public and other special addresses are outside the default networks", () => {
    for (const address of ["8.8.8.8", "172.32.0.1", "100.64.0.1", "2001:db8::1", "::2"]) {
      assert.equal(rule(address), "not-allowed", address);
    }
    assert.match(
      policy.check("8.8.8.8", 80)?.message ?? "",
      /outside the allowed networks \(127\.0\.0\.0\/8, ::1\/128, .*--shim-allow-networks\)/,
    );
  });

  test("a configured list replaces the default", () => {
    const narrow = createAddressPolicy({
      allowNetworks: ["10.1.0.0/16", "2001:db8::/32"].map(parseCidrText),
      consulHost: "127.0.0.1",
      consulPort: 8500,
    });
    assert.equal(narrow.check("10.1.2.3", 80), undefined);
    assert.equal(narrow.check("2001:db8::5", 80), undefined);
    assert.equal(narrow.check("10.2.0.1", 80)?.rule, "not-allowed");
    assert.equal(narrow.check("127.0.0.1", 80)?.rule, "not-allowed");
  });
});

describe("Consul's own ports on Consul's host", () => {
  test("Consul's well-known ports and its configured HTTP port are refused on loopback", () => {
    for (const port of [8300, 8301, 8302, 8500, 8501, 8502, 8503, 8600, 18500]) {
      assert.equal(rule("127.0.0.1", port), "consul-port", String(port));
      assert.equal(rule("127.0.0.2", port), "consul-port", String(port));
      assert.equal(rule("::1", port), "consul-port", String(port));
    }
    assert.match(
      policy.check("127.0.0.1", 8500)?.message ?? "",
      /^127\.0\.0\.1:8500 is a Consul port \(8300, 8301, 8302, 8500, .*18500\) on Consul's host$/,
    );
  });

  test("they are refused on Consul's configured address and on this machine's addresses", () => {
    assert.equal(rule("10.9.9.9", 8500), "consul-port");
    assert.equal(rule("192.168.7.7", 8301), "consul-port");
    assert.equal(rule("fd12::7", 8600), "consul-port");
  });

  test("the same ports elsewhere, and other ports on Consul's host, are allowed", () => {
    assert.equal(rule("10.0.0.5", 8500), "allowed");
    assert.equal(rule("127.0.0.1", 8080), "allowed");
    assert.equal(rule("10.9.9.9", 8499), "allowed");
  });
});

describe("canonical addresses and networks", () => {
  test("IPv4-mapped IPv6 is normalized to IPv4; IPv6 is compressed and lower case", () => {
    assert.equal(canonicalAddress("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(canonicalAddress("::FFFF:a9fe:a9fe"), "169.254.169.254");
    assert.equal(canonicalAddress("0:0:0:0:0:ffff:0a00:0001"), "10.0.0.1");
    assert.equal(canonicalAddress("FD00:0:0::0:1"), "fd00::1");
    assert.equal(canonicalAddress("::1"), "::1");
    assert.equal(rule("::ffff:169.254.169.254"), "link-local");
    assert.equal(rule("::ffff:8.8.8.8"), "not-allowed");
  });

  test("CIDR text: a bare address is one host, mapped networks become IPv4, bad text throws", () => {
    assert.deepEqual(parseCidrText(" 10.0.0.0/8 "), {
      address: "10.0.0.0",
      prefix: 8,
      family: "ipv4",
    });
    assert.deepEqual(parseCidrText("fd00::1"), { address: "fd00::1", prefix: 128, family: "ipv6" });
    assert.deepEqual(parseCidrText("::ffff:10.0.0.0/104"), {
      address: "10.0.0.0",
      prefix: 8,
      family: "ipv4",
    });
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0/8", "x/8", "10.0.0.0/8/1", "10.0.0.0/-1"]) {
      assert.throws(() => parseCidrText(bad), RangeError, bad);
    }
    assert.throws(() => parseCidrText("::ffff:10.0.0.0/64"), /96-128/);
    assert.throws(() => parseCidrText("fe80::1%eth0/64"), RangeError);
  });
});
