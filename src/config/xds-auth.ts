import type { OptionSpec } from "./option-spec.ts";
import { readGivenFile, type GivenValue } from "./values.ts";
import { X509Certificate } from "node:crypto";
import { createSecureContext } from "node:tls";

/** TLS of the xDS port: PEM contents, read once at start. */
export interface XdsTlsConfig {
  certificate: Buffer;
  privateKey: Buffer;
  /** When set, clients must present a certificate this CA signed (mutual TLS). */
  clientCa: Buffer | undefined;
}

/** How the xDS server authenticates its clients. */
export interface XdsAuthConfig {
  /** Plaintext when undefined. */
  tls: XdsTlsConfig | undefined;
  /** Bearer token every xDS call must carry; none when undefined. */
  token: string | undefined;
}

/** The xDS authentication options, in the shape of the option table (option-spec.ts). */
export const XDS_AUTH_OPTIONS = {
  xdsTlsCert: {
    flag: "xds-tls-cert",
    env: "BRIDGE_XDS_TLS_CERT",
    group: "xds",
    placeholder: "FILE",
    description: "PEM certificate (chain) of the xDS server; enables TLS",
    whenUnset: "plaintext",
  },
  xdsTlsKey: {
    flag: "xds-tls-key",
    env: "BRIDGE_XDS_TLS_KEY",
    group: "xds",
    placeholder: "FILE",
    description: "PEM private key of --xds-tls-cert",
    whenUnset: "none",
  },
  xdsClientCa: {
    flag: "xds-client-ca",
    env: "BRIDGE_XDS_CLIENT_CA",
    group: "xds",
    placeholder: "FILE",
    description: "PEM CA file; xDS clients must present a certificate it signed (mutual TLS)",
    whenUnset: "no client certificate asked",
  },
  xdsToken: {
    flag: "xds-token",
    env: "BRIDGE_XDS_TOKEN",
    group: "xds",
    placeholder: "TOKEN",
    description: "bearer token every xDS stream must carry (authorization metadata)",
    whenUnset: "none",
  },
  xdsTokenFile: {
    flag: "xds-token-file",
    env: "BRIDGE_XDS_TOKEN_FILE",
    group: "xds",
    placeholder: "FILE",
    description: "file holding the xDS bearer token (keeps it out of argv)",
    whenUnset: "none",
  },
} as const satisfies Record<string, OptionSpec>;

type XdsAuthOption = keyof typeof XDS_AUTH_OPTIONS;

/** Token characters: visible ASCII, no spaces (it travels as `authorization: Bearer TOKEN`). */
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Reads and checks the xDS TLS files and token. Every problem is added to `problems`, naming the
 * option: a certificate without its key (or a key alone), a client CA without TLS, both a token
 * and a token file, an unreadable or unusable file, an empty token.
 */
export function readXdsAuth(
  given: Partial<Record<XdsAuthOption, GivenValue>>,
  problems: string[],
): XdsAuthConfig {
  const name = (option: XdsAuthOption): string =>
    `--${XDS_AUTH_OPTIONS[option].flag} (${XDS_AUTH_OPTIONS[option].env})`;
  const read = (option: XdsAuthOption): Buffer | undefined => {
    const file = given[option];
    return file && readGivenFile(file, problems);
  };
  const { xdsTlsCert: cert, xdsTlsKey: key, xdsClientCa: clientCa } = given;
  if (cert && !key) problems.push(`${cert.source} needs ${name("xdsTlsKey")}`);
  if (key && !cert) problems.push(`${key.source} needs ${name("xdsTlsCert")}`);
  if (clientCa && !cert)
    problems.push(`${clientCa.source} (mutual TLS) needs TLS: set ${name("xdsTlsCert")} and key`);

  const certificate = read("xdsTlsCert");
  const privateKey = read("xdsTlsKey");
  const caPem = read("xdsClientCa");
  if (cert && key && certificate && privateKey) {
    try {
      createSecureContext({ cert: certificate, key: privateKey });
    } catch (error) {
      problems.push(
        `${cert.source}, ${key.source}: not a usable PEM certificate and key (${(error as Error).message})`,
      );
    }
  }
  if (clientCa && caPem) {
    try {
      new X509Certificate(caPem);
    } catch (error) {
      problems.push(`${clientCa.source}: not a PEM certificate (${(error as Error).message})`);
    }
  }
  const tls = certificate && privateKey ? { certificate, privateKey, clientCa: caPem } : undefined;
  return { tls, token: readToken(given, problems) };
}

function readToken(
  given: Partial<Record<XdsAuthOption, GivenValue>>,
  problems: string[],
): string | undefined {
  const { xdsToken: inline, xdsTokenFile: file } = given;
  if (inline && file) {
    problems.push(`${inline.source} and ${file.source}: give the xDS token one way, not both`);
    return undefined;
  }
  let token: string;
  let source: string;
  if (inline) {
    token = inline.value;
    source = inline.source;
  } else if (file) {
    const content = readGivenFile(file, problems);
    if (!content) return undefined;
    // A trailing newline (echo > file) is not part of the token.
    token = content.toString("utf8").trim();
    source = `${file.source}=${file.value}`;
  } else {
    return undefined;
  }
  if (!TOKEN.test(token)) {
    // The token itself is never echoed.
    problems.push(`${source}: the token must be non-empty visible ASCII without spaces`);
    return undefined;
  }
  return token;
}
