import { BadConsulAnswerError } from "./consul-answers.ts";

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_LIST = 0x5b;
const CLOSE_LIST = 0x5d;

const isSpace = (code: number): boolean =>
  code === SPACE || code === LF || code === CR || code === TAB;

/**
 * The texts of the objects of a JSON list, without parsing them: `[{…}, {…}]` gives `["{…}",
 * "{…}"]`, each a slice of `text` (V8 keeps a slice as a view of its parent, not a copy). A
 * blocking answer of thousands of checks mostly repeats the previous one; comparing items as text
 * parses only those that changed (change-detection.ts). The list itself is checked (brackets,
 * commas, nothing after it); each item's own JSON is left to whoever parses it.
 */
export function jsonArrayItems(text: string, what: string): string[] {
  const bad = (detail: string): never => {
    throw new BadConsulAnswerError(`${what}: ${detail}`);
  };
  const items: string[] = [];
  const end = text.length;
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_LIST) bad("expected a list");
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === CLOSE_LIST)
    return skipSpace(text, i + 1) === end ? items : bad("text after the list");
  for (;;) {
    if (text.charCodeAt(i) !== OPEN_OBJECT) bad(`item ${items.length} is not an object`);
    const close = objectEnd(text, i);
    if (close < 0) bad(`item ${items.length} is cut short`);
    items.push(text.slice(i, close + 1));
    i = skipSpace(text, close + 1);
    const next = text.charCodeAt(i);
    if (next === CLOSE_LIST) break;
    if (next !== COMMA) bad(`expected , or ] after item ${items.length - 1}`);
    i = skipSpace(text, i + 1);
  }
  if (skipSpace(text, i + 1) !== end) bad("text after the list");
  return items;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** The index of the `}` closing the object opened at `start`, or -1 when the text ends first. */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      // Skip the string: a backslash escapes the next character, whatever it is.
      for (i++; i < text.length; i++) {
        const inner = text.charCodeAt(i);
        if (inner === BACKSLASH) i++;
        else if (inner === QUOTE) break;
      }
    } else if (code === OPEN_OBJECT || code === OPEN_LIST) depth++;
    else if ((code === CLOSE_OBJECT || code === CLOSE_LIST) && --depth === 0) return i;
  }
  return -1;
}

/** An answer's items by their text, and those that were not in the previous answer. */
export interface ItemsByText<T> {
  byText: Map<string, T>;
  added: T[];
}

/**
 * The items of a JSON list answer kept by their text ({@link jsonArrayItems}): an item whose text
 * was in `previous` (the last answer's) is taken from it, any other is parsed and handed to
 * `read` with its position. Throws {@link BadConsulAnswerError} on a bad list or an item that is
 * not JSON, and whatever `read` throws; changes nothing it was given.
 */
export function itemsByText<T>(
  text: string,
  what: string,
  previous: ReadonlyMap<string, T>,
  read: (value: unknown, i: number) => T,
): ItemsByText<T> {
  const byText = new Map<string, T>();
  const added: T[] = [];
  for (const [i, item] of jsonArrayItems(text, what).entries()) {
    if (byText.has(item)) continue;
    let kept = previous.get(item);
    if (kept === undefined) {
      let value: unknown;
      try {
        value = JSON.parse(item);
      } catch (error) {
        throw new BadConsulAnswerError(
          `${what}: item ${i} is not JSON (${(error as Error).message})`,
        );
      }
      added.push((kept = read(value, i)));
    }
    byText.set(item, kept);
  }
  return { byText, added };
}
