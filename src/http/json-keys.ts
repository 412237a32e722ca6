/**
 * The keys of a valid JSON text's top-level object in order, duplicates included: `JSON.parse`
 * silently keeps the last of duplicate keys, and the shim rejects them instead.
 */
export function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth !== 1) continue;
      let next = i + 1;
      while (/\s/.test(text[next] ?? "")) next++;
      if (text[next] === ":") keys.push(JSON.parse(text.slice(start, i + 1)) as string);
    } else if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") depth--;
  }
  return keys;
}
