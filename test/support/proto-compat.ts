import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
// Imported for its side effect too: it registers google/protobuf/descriptor.proto, which
// upstream's annotation protos import.
import "@grpc/proto-loader";
import protobuf from "protobufjs";
import { loadProtoTree, PROTOS_DIR } from "../../src/xds/resources/proto-tree.ts";

/** Every `.proto` file in the project's tree, relative to it. */
export function ourProtoFiles(dir = PROTOS_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".proto"))
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** All of our definitions, every file loaded (not only the bridge's entry points). */
export function loadOurs(): protobuf.Root {
  return loadProtoTree(PROTOS_DIR, ourProtoFiles());
}

/**
 * Upstream's complete definitions, from the trees @grpc/grpc-js-xds ships (test-only): the same
 * paths as ours, plus `extra` files; google/protobuf comes from protobufjs's bundled copies.
 */
export function loadUpstream(extra: readonly string[] = []): protobuf.Root {
  const require = createRequire(import.meta.url);
  const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  const dirs = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d));
  const find = (file: string): string | undefined =>
    dirs.map((dir) => join(dir, file)).find((path) => existsSync(path));
  const files = [...ourProtoFiles().filter((file) => find(file) !== undefined), ...extra];
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => find(target) ?? target;
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  canonicalValueNames(root);
  return root;
}

/**
 * protobufjs's bundled copy of struct.proto names google.protobuf.Value's fields in camelCase
 * (`stringValue`), where the .proto and every other definition use snake_case (`string_value`).
 * Names never reach the wire; renaming them (numbers and types untouched) lets objects compare.
 */
function canonicalValueNames(root: protobuf.Root): void {
  const value = root.lookupType("google.protobuf.Value");
  for (const field of [...value.fieldsArray]) {
    const name = field.name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    if (name === field.name) continue;
    const oneof = field.partOf;
    oneof?.remove(field);
    value.remove(field);
    const renamed = new protobuf.Field(
      name,
      field.id,
      field.type,
      field.repeated ? "repeated" : undefined,
      undefined,
      field.options,
    );
    value.add(renamed);
    oneof?.add(renamed);
    renamed.resolve();
  }
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, bytes: Buffer };
const WITH_DEFAULTS: protobuf.IConversionOptions = { ...TO_OBJECT, defaults: true };

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !isBytes(value);
const typeNameOf = (typeUrl: string): string => typeUrl.slice(typeUrl.lastIndexOf("/") + 1);

/** Every Any (type_url + value) inside a decoded object, with its path. */
function anysIn(
  value: unknown,
  path = "$",
): { path: string; typeUrl: string; bytes: Uint8Array }[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => anysIn(item, `${path}[${i}]`));
  if (!isRecord(value)) return [];
  if (typeof value.type_url === "string" && isBytes(value.value)) {
    return [{ path, typeUrl: value.type_url, bytes: value.value }];
  }
  return Object.entries(value).flatMap(([key, item]) => anysIn(item, `${path}.${key}`));
}

/**
 * Compares bytes made with our definitions against upstream's complete ones (test-only, from
 * @grpc/grpc-js-xds). protobufjs's fromObject silently drops keys its type does not know, so
 * every check compares what went in with what upstream reads back, key by key.
 */
export class WireCompat {
  /**
   * @param ours all of our definitions, to decode with
   * @param upstream upstream's complete definitions
   * @param encoder the root objects are encoded with: the one the bridge loads, so a nested
   *   `@type` Any whose file the bridge does not load (and would encode empty) is caught
   */
  constructor(
    readonly ours: protobuf.Root,
    readonly upstream: protobuf.Root,
    readonly encoder: protobuf.Root = ours,
  ) {}

  /**
   * Encodes `object` (proto field names, Anys as `@type` objects or type_url + value) the way the
   * bridge does and proves upstream reads every field it sets, with the same value. Returns the
   * bytes.
   */
  assertSurvives(typeName: string, object: object): Uint8Array {
    const type = this.encoder.lookupType(typeName);
    const bytes = type.encode(type.fromObject(object)).finish();
    this.assertCarries(typeName, object, bytes);
    return bytes;
  }

  /** As {@link assertSurvives}, for bytes the bridge encoded itself from `object`. */
  assertCarries(typeName: string, object: object, bytes: Uint8Array): void {
    const decoded = this.assertReadsTheSame(typeName, bytes);
    assert.deepEqual(this.lostFields(object, decoded), [], `${typeName}: fields lost on the way`);
  }

  /**
   * Encodes `request` with upstream's definitions and proves ours read every field it sets: our
   * types decode it as upstream's do, and so does `deserialize` (the bridge's gRPC decoder).
   */
  assertReadFromUpstream(
    typeName: string,
    request: object,
    deserialize: (bytes: Buffer) => unknown,
  ): void {
    const type = this.upstream.lookupType(typeName);
    const bytes = type.encode(type.fromObject(request)).finish();
    const sent = type.toObject(type.decode(bytes), WITH_DEFAULTS);
    assert.deepEqual(this.lostFields(request, sent), [], `${typeName}: upstream dropped fields`);
    this.assertReadsTheSame(typeName, bytes);
    const read = deserialize(Buffer.from(bytes));
    assert.deepEqual(this.lostFields(request, read), [], `${typeName}: the bridge lost fields`);
  }

  /**
   * Proves `bytes` read the same with both definitions: equal decodes, and no field upstream
   * sees that ours lack (re-encoding upstream's decode with ours gives the same bytes); every
   * Any inside is checked the same way. Returns upstream's decode, defaults included.
   */
  assertReadsTheSame(
    typeName: string,
    bytes: Uint8Array,
    path = typeName,
  ): Record<string, unknown> {
    const ourType = this.ours.lookupType(typeName);
    const upType = this.upstream.lookupType(typeName);
    const upDecoded = upType.toObject(upType.decode(bytes), TO_OBJECT);
    const ourDecoded = ourType.toObject(ourType.decode(bytes), TO_OBJECT);
    assert.deepEqual(ourDecoded, upDecoded, `${path}: our decode differs from upstream's`);
    const again = ourType.encode(ourType.fromObject(upDecoded)).finish();
    assert.ok(
      Buffer.from(again).equals(Buffer.from(bytes)),
      `${path}: upstream decoded fields our definitions lack`,
    );
    for (const any of anysIn(upDecoded)) {
      this.assertReadsTheSame(typeNameOf(any.typeUrl), any.bytes, `${path} ${any.path}`);
    }
    return upType.toObject(upType.decode(bytes), WITH_DEFAULTS);
  }

  /**
   * Where `output` (an upstream decode, defaults on) fails to carry `input`: a key it lacks or
   * a different leaf value. A `@type` object in `input` is compared with the Any's contents.
   */
  lostFields(input: unknown, output: unknown, path = "$"): string[] {
    if (input === undefined || input === null) return [];
    if (isBytes(input)) {
      return isBytes(output) && Buffer.from(input).equals(Buffer.from(output)) ? [] : [path];
    }
    if (Array.isArray(input)) {
      if (!Array.isArray(output) || output.length !== input.length) return [path];
      return input.flatMap((item, i) => this.lostFields(item, output[i], `${path}[${i}]`));
    }
    if (isRecord(input)) {
      if (!isRecord(output)) return [path];
      const { "@type": packed, ...fields } = input;
      if (typeof packed === "string") {
        if (output.type_url !== packed || !isBytes(output.value)) return [`${path}.@type`];
        const type = this.upstream.lookupType(typeNameOf(packed));
        return this.lostFields(
          fields,
          type.toObject(type.decode(output.value), WITH_DEFAULTS),
          path,
        );
      }
      return Object.entries(fields).flatMap(([key, value]) =>
        value === undefined || value === null
          ? []
          : output[key] !== undefined && output[key] !== null
            ? this.lostFields(value, output[key], `${path}.${key}`)
            : [`${path}.${key}`],
      );
    }
    // Enums may be given by number and come back by name: not comparable here.
    if (typeof input === "number" && typeof output === "string" && Number.isNaN(Number(output))) {
      return [];
    }
    return String(input) === String(output) ? [] : [path];
  }
}

/** Every message, enum and service defined in a namespace and below it. */
function definitionsIn(
  namespace: protobuf.NamespaceBase,
): (protobuf.Type | protobuf.Enum | protobuf.Service)[] {
  return namespace.nestedArray.flatMap((item) => {
    const here =
      item instanceof protobuf.Type ||
      item instanceof protobuf.Enum ||
      item instanceof protobuf.Service
        ? [item]
        : [];
    const below = item instanceof protobuf.Namespace ? definitionsIn(item) : [];
    return [...here, ...below];
  });
}

/** How a field looks on the wire and in its message, for comparing two definitions. */
function fieldShape(field: protobuf.Field): string {
  const type = field.resolvedType ? field.resolvedType.fullName : field.type;
  const kind =
    field instanceof protobuf.MapField
      ? `map<${field.keyType}>`
      : field.repeated
        ? "repeated"
        : "single";
  const synthetic = field.options?.proto3_optional === true;
  const oneof = field.partOf && !synthetic ? ` oneof ${field.partOf.name}` : "";
  return `${field.id} ${kind} ${type}${synthetic ? " optional" : ""}${oneof}`;
}

const methodShape = (method: protobuf.Method): string =>
  [
    method.requestStream ? "stream" : "unary",
    method.resolvedRequestType?.fullName,
    method.responseStream ? "stream" : "unary",
    method.resolvedResponseType?.fullName,
  ].join(" ");

/**
 * Every definition of `ours` that upstream does not have exactly: a message, enum or service
 * missing upstream; a field with another number, type, cardinality or oneof; an enum value with
 * another number; a method with other message types or streaming. Both roots must be resolved.
 */
export function definitionMismatches(ours: protobuf.Root, upstream: protobuf.Root): string[] {
  const problems: string[] = [];
  for (const mine of definitionsIn(ours)) {
    const theirs = upstream.lookup(mine.fullName);
    if (!theirs || theirs.constructor !== mine.constructor) {
      problems.push(`${mine.fullName}: not upstream`);
    } else if (mine instanceof protobuf.Type) {
      for (const field of mine.fieldsArray) {
        const match = (theirs as protobuf.Type).fields[field.name];
        if (!match || fieldShape(match) !== fieldShape(field)) {
          problems.push(`${mine.fullName}.${field.name}`);
        }
      }
    } else if (mine instanceof protobuf.Enum) {
      for (const [name, id] of Object.entries(mine.values)) {
        if ((theirs as protobuf.Enum).values[name] !== id)
          problems.push(`${mine.fullName}.${name}`);
      }
    } else {
      for (const method of mine.methodsArray) {
        const match = (theirs as protobuf.Service).methods[method.name];
        if (!match || methodShape(match) !== methodShape(method)) {
          problems.push(`${mine.fullName}.${method.name}`);
        }
      }
    }
  }
  return problems;
}
