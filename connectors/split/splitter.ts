/**
 * A function that cuts a value into at most `limit` parts at `separator` (literal text, or a regular
 * expression). Past `limit - 1` cuts the rest of the value, separators included, is the last part, as
 * Java's `String.split(regex, limit)` does (and so SeaTunnel's Split transform). A regular expression's
 * empty matches do not cut.
 */
export function splitter(separator: string, isRegex: boolean, limit: number): (text: string) => string[] {
  if (!isRegex) {
    return (text) => {
      const parts: string[] = [];
      let from = 0;
      while (parts.length < limit - 1) {
        const at = text.indexOf(separator, from);
        if (at < 0) break;
        parts.push(text.slice(from, at));
        from = at + separator.length;
      }
      parts.push(text.slice(from));
      return parts;
    };
  }
  const regex = new RegExp(separator, 'gu');
  return (text) => {
    const parts: string[] = [];
    let from = 0;
    regex.lastIndex = 0;
    while (parts.length < limit - 1) {
      const match = regex.exec(text);
      if (!match) break;
      if (match[0].length === 0) {
        // Step past an empty match by one code point, so that the search moves on.
        regex.lastIndex = match.index + ((text.codePointAt(match.index) ?? 0) > 0xffff ? 2 : 1);
        if (match.index >= text.length) break;
        continue;
      }
      parts.push(text.slice(from, match.index));
      from = match.index + match[0].length;
    }
    parts.push(text.slice(from));
    return parts;
  };
}
