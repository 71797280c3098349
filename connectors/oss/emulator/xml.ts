/**
 * The emulator's XML: a builder for every response body and a deliberately small parser for the two
 * request bodies OSS clients send (CompleteMultipartUpload and Delete). Neither is a general XML
 * library; both cover exactly what the OSS wire format uses (elements, text, entities, CDATA).
 */

/** A value an element can hold: text, nested elements, or nothing (the element is then omitted). */
export type XmlValue = string | number | boolean | XmlElement[] | undefined | null;

/** One element: `[name, value]`. Arrays of elements keep document order, repeats included. */
export type XmlElement = readonly [name: string, value: XmlValue];

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return '&apos;';
    }
  });
}

function renderElement(element: XmlElement, out: string[]): void {
  const [name, value] = element;
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    out.push(`<${name}>`);
    for (const child of value) renderElement(child, out);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeXml(String(value))}</${name}>`);
}

/** Renders a document with the XML declaration OSS puts in front of every body. */
export function renderXml(root: XmlElement): string {
  const out: string[] = [XML_DECLARATION];
  renderElement(root, out);
  return out.join('');
}

/** A parsed element. Attributes are dropped: no body OSS accepts carries meaning in them. */
export interface XmlNode {
  name: string;
  children: XmlNode[];
  /** Concatenated character data directly inside this element, entities decoded. */
  text: string;
}

/** Thrown for input that is not well-formed; the emulator answers it with `MalformedXML`. */
export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const named = NAMED_ENTITIES[ref];
    if (named === undefined) throw new XmlSyntaxError(`unknown entity ${whole}`);
    return named;
  });
}

const MAX_DEPTH = 32;
const NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]*/;

/**
 * Parses a document into its root element. Text outside elements must be whitespace; a stray `&`
 * or `<`, an unclosed or mismatched tag, or more than one root element is an error.
 */
export function parseXml(source: string): XmlNode {
  let pos = 0;
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;

  // Annotated so that TypeScript treats calls as never-returning and narrows after them.
  const fail: (what: string) => never = (what) => {
    throw new XmlSyntaxError(`${what} at offset ${pos}`);
  };
  const skipPast = (terminator: string): void => {
    const end = source.indexOf(terminator, pos);
    if (end < 0) fail(`unterminated construct, expected ${terminator}`);
    pos = end + terminator.length;
  };

  while (pos < source.length) {
    const lt = source.indexOf('<', pos);
    const textEnd = lt < 0 ? source.length : lt;
    if (textEnd > pos) {
      const raw = source.slice(pos, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(raw);
      else if (raw.trim() !== '') fail('text outside the root element');
      pos = textEnd;
      continue;
    }
    if (source.startsWith('<?', pos)) {
      skipPast('?>');
    } else if (source.startsWith('<!--', pos)) {
      skipPast('-->');
    } else if (source.startsWith('<![CDATA[', pos)) {
      const start = pos + '<![CDATA['.length;
      skipPast(']]>');
      const top = stack[stack.length - 1];
      if (!top) fail('CDATA outside the root element');
      else top.text += source.slice(start, pos - 3);
    } else if (source.startsWith('<!', pos)) {
      // A DOCTYPE could declare entities; refusing it keeps the parser honest and small.
      fail('DOCTYPE is not accepted');
    } else if (source.startsWith('</', pos)) {
      pos += 2;
      const name = NAME.exec(source.slice(pos))?.[0] ?? fail('expected a closing tag name');
      pos += name.length;
      while (/\s/.test(source[pos] ?? '')) pos++;
      if (source[pos] !== '>') fail('expected > after closing tag name');
      pos++;
      const open = stack.pop();
      if (!open || open.name !== name) fail(`closing tag </${name}> does not match`);
    } else {
      pos++;
      const name = NAME.exec(source.slice(pos))?.[0] ?? fail('expected a tag name');
      pos += name.length;
      const tagEnd = source.indexOf('>', pos);
      if (tagEnd < 0) fail('unterminated tag');
      const selfClosing = source[tagEnd - 1] === '/';
      pos = tagEnd + 1;
      const node: XmlNode = { name, children: [], text: '' };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(node);
      else if (root) fail('more than one root element');
      else root = node;
      if (!selfClosing) {
        if (stack.length >= MAX_DEPTH) fail('elements nested too deeply');
        stack.push(node);
      }
    }
  }
  if (stack.length > 0) fail(`unclosed element <${stack[stack.length - 1]?.name ?? ''}>`);
  return root ?? fail('no root element');
}

/** The first child with this name, if any. */
export function childNamed(node: XmlNode, name: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name);
}

/** All children with this name, in document order. */
export function childrenNamed(node: XmlNode, name: string): XmlNode[] {
  return node.children.filter((c) => c.name === name);
}
