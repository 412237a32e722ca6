/** The shape of one entry of the option tables, and the groups --help shows them in. */

/** The --help sections, in the order they are printed, with their headings. */
export const OPTION_GROUPS = {
  general: "General",
  consul: "Consul (where the catalog is read)",
  health: "Health (how Consul's check status reaches Envoy)",
  xds: "xDS server (what Envoy and gRPC clients connect to)",
  gateway: "Gateway (one Envoy listener routing to every service)",
  http: "HTTP (shim, status page, /metrics)",
  shim: "Shim (registrations through /edsservice)",
  dns: "DNS (services resolved from DNS names)",
  logging: "Logging",
} as const;

/** Key of {@link OPTION_GROUPS}. */
export type OptionGroup = keyof typeof OPTION_GROUPS;

/** What every option carries: its flag, environment names, --help section and description. */
interface OptionBase {
  /** The flag without its dashes; also the option's key in the --config file. */
  flag: string;
  env?: string;
  /** An older environment name still read, with a deprecation notice. */
  deprecatedEnv?: string;
  short?: string;
  group: OptionGroup;
  /** What the option does, without its default (--help adds it from `default` or `whenUnset`). */
  description: string;
  /** An empty value in the environment is a value (it turns the option off), not an unset one. */
  emptyIsValue?: boolean;
}

/** An option taking a value: a placeholder for --help, and its default or what its absence means. */
type ValueOption = OptionBase & {
  /** What --help shows after the flag: `PORT`, `FILE`, or the choices (`refuse|all`). */
  placeholder: string;
  /** A switch that may stand alone, meaning true (`--consul-ssl`), or carry a value (`--consul-ssl=false`). */
  valueOptional?: boolean;
  boolean?: never;
} & (
    | {
        /** The value used when none is given: a DEFAULT_* constant, or the literal the reader uses. */
        default: string | number | boolean | readonly string[];
        whenUnset?: never;
      }
    | {
        /** What happens when no value is given, for an option that has no default value. */
        whenUnset: string;
        default?: never;
      }
  );

/** A flag that takes no value (`--help`). */
type SwitchOption = OptionBase & {
  boolean: true;
  placeholder?: never;
  valueOptional?: never;
  default?: never;
  whenUnset?: never;
};

/** One option of the tables; the type requires a placeholder and a default for every value. */
export type OptionSpec = ValueOption | SwitchOption;
