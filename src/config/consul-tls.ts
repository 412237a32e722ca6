import { X509Certificate } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { readGivenFile, type GivenValue } from "./values.ts";

/** TLS towards Consul's HTTPS API, with file contents read once at start. */
export interface ConsulTlsConfig {
  /** CA certificates (CONSUL_CACERT and every file of CONSUL_CAPATH); system CAs when undefined. */
  ca: Buffer[] | undefined;
  /** Client certificate and key for Consul's `verify_incoming` (mutual TLS). */
  cert: Buffer | undefined;
  key: Buffer | undefined;
  /** Name checked against the server certificate (SNI) instead of the address's host. */
  serverName: string | undefined;
  /** False (CONSUL_HTTP_SSL_VERIFY=false) accepts any server certificate. */
  verify: boolean;
}

/** The TLS options towards Consul as given, by option name (consul.ts's table). */
export type ConsulTlsGiven = Partial<
  Record<
    | "consulCaCert"
    | "consulCaPath"
    | "consulClientCert"
    | "consulClientKey"
    | "consulTlsServerName",
    GivenValue
  >
>;

/**
 * Reads the TLS files towards Consul once, checking each holds certificates; a client
 * certificate needs its key and the other way round. Undefined when nothing asks for TLS settings.
 */
export function readConsulTls(
  given: ConsulTlsGiven,
  verify: boolean,
  problems: string[],
): ConsulTlsConfig | undefined {
  const { consulCaCert, consulCaPath, consulClientCert, consulClientKey } = given;
  if (consulClientCert && !consulClientKey)
    problems.push(`${consulClientCert.source} needs --consul-client-key (CONSUL_CLIENT_KEY)`);
  if (consulClientKey && !consulClientCert)
    problems.push(`${consulClientKey.source} needs --consul-client-cert (CONSUL_CLIENT_CERT)`);
  const ca: Buffer[] = [];
  if (consulCaCert) {
    const pem = readGivenFile(consulCaCert, problems);
    if (pem) ca.push(...checkCertificates(consulCaCert, pem, problems));
  }
  if (consulCaPath) ca.push(...readCaDirectory(consulCaPath, problems));
  const serverName = given.consulTlsServerName?.value;
  const anything = ca.length > 0 || consulClientCert || serverName !== undefined || !verify;
  if (!anything) return undefined;
  return {
    ca: ca.length > 0 ? ca : undefined,
    cert: consulClientCert && readGivenFile(consulClientCert, problems),
    key: consulClientKey && readGivenFile(consulClientKey, problems),
    serverName,
    verify,
  };
}

/** Every regular file of the directory, as Consul's CAPath does; each must hold certificates. */
function readCaDirectory(dir: GivenValue, problems: string[]): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir.value).sort();
  } catch (error) {
    problems.push(
      `${dir.source}=${dir.value}: cannot read the directory (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
    return [];
  }
  const found: Buffer[] = [];
  for (const name of names) {
    const path = join(dir.value, name);
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) continue;
    const file = { value: path, source: dir.source };
    const pem = readGivenFile(file, problems);
    if (pem) found.push(...checkCertificates(file, pem, problems));
  }
  if (found.length === 0 && names.length === 0)
    problems.push(`${dir.source}=${dir.value}: no CA file in the directory`);
  return found;
}

function checkCertificates(file: GivenValue, pem: Buffer, problems: string[]): Buffer[] {
  try {
    new X509Certificate(pem);
    return [pem];
  } catch (error) {
    problems.push(
      `${file.source}=${file.value}: not a PEM certificate (${(error as Error).message})`,
    );
    return [];
  }
}
