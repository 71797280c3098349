import { describe, expect, it } from 'vitest';
import { globToRegExp } from '../../../connectors/oss/emulator/faults.js';
import { decideRange } from '../../../connectors/oss/emulator/handlers.js';
import { bucketFromHost, routeCandidates } from '../../../connectors/oss/emulator/routing.js';
import { compareBytes, multipartEtag } from '../../../connectors/oss/emulator/store.js';
import { parseXml, renderXml, XmlSyntaxError } from '../../../connectors/oss/emulator/xml.js';

describe('xml', () => {
  it('parses what ali-oss sends: declaration, newlines, quoted ETags, escaped keys', () => {
    const root = parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<Delete><Quiet>false</Quiet><Object><Key>a&amp;b&lt;c&gt;.txt</Key></Object><Object><Key><![CDATA[x<y]]></Key></Object></Delete>');
    expect(root.name).toBe('Delete');
    expect(root.children.filter((c) => c.name === 'Object').map((o) => o.children[0]?.text)).toEqual(['a&b<c>.txt', 'x<y']);
    const complete = parseXml('<CompleteMultipartUpload>\n<Part>\n<PartNumber>1</PartNumber>\n<ETag>"AB&#67;"</ETag>\n</Part>\n</CompleteMultipartUpload>');
    expect(complete.children[0]?.children.map((c) => [c.name, c.text])).toEqual([
      ['PartNumber', '1'],
      ['ETag', '"ABC"'],
    ]);
  });

  it('rejects documents that are not well-formed', () => {
    for (const bad of ['<a><b></a></b>', '<a>', 'text<a/>', '<a/><b/>', '<a>&bogus;</a>', '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', '']) {
      expect(() => parseXml(bad), bad).toThrow(XmlSyntaxError);
    }
  });

  it('escapes text and omits absent elements when rendering', () => {
    expect(renderXml(['R', [['K', 'a&b<"c">'], ['Gone', undefined], ['N', 3], ['T', true]]])).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<R><K>a&amp;b&lt;&quot;c&quot;&gt;</K><N>3</N><T>true</T></R>',
    );
  });
});

describe('ranges', () => {
  it('follows OSS: legacy ignores bad ranges, standard clamps or refuses', () => {
    expect(decideRange('bytes=0-499', 1000, false)).toEqual({ kind: 'partial', start: 0, end: 499 });
    expect(decideRange('bytes=-500', 1000, false)).toEqual({ kind: 'partial', start: 500, end: 999 });
    expect(decideRange('bytes=500-', 1000, false)).toEqual({ kind: 'partial', start: 500, end: 999 });
    expect(decideRange('bytes=0-1000', 1000, false)).toEqual({ kind: 'full' });
    expect(decideRange('bytes=0-1000', 1000, true)).toEqual({ kind: 'partial', start: 0, end: 999 });
    expect(decideRange('bytes=1000-2000', 1000, false)).toEqual({ kind: 'full' });
    expect(decideRange('bytes=1000-2000', 1000, true)).toEqual({ kind: 'unsatisfiable' });
    expect(decideRange('byte=0-499', 1000, true)).toEqual({ kind: 'full' });
    expect(decideRange('bytes=5-2', 1000, true)).toEqual({ kind: 'full' });
  });
});

describe('routing', () => {
  it('takes the bucket from a virtual-hosted Host, never from an IP or localhost', () => {
    expect(bucketFromHost('test-bucket.oss-cn-hangzhou.aliyuncs.com')).toBe('test-bucket');
    expect(bucketFromHost('test-bucket.localhost:9000')).toBe('test-bucket');
    expect(bucketFromHost('.oss-cn-hangzhou.aliyuncs.com')).toBeUndefined();
    expect(bucketFromHost('oss-cn-hangzhou.aliyuncs.com')).toBeUndefined();
    expect(bucketFromHost('127.0.0.1:9000')).toBeUndefined();
    expect(bucketFromHost('[::1]:9000')).toBeUndefined();
    expect(bucketFromHost('localhost:9000')).toBeUndefined();
  });

  it('offers both readings when Host and path both carry the bucket', () => {
    expect(routeCandidates('auto', 'b1.oss-cn-hangzhou.aliyuncs.com', '/b1/k%2Bx', undefined)).toEqual([
      { style: 'host', bucket: 'b1', key: 'b1/k+x' },
      { style: 'path', bucket: 'b1', key: 'k+x' },
    ]);
    expect(routeCandidates('path', 'b1.oss-cn-hangzhou.aliyuncs.com', '/b1/k', undefined)).toEqual([{ style: 'path', bucket: 'b1', key: 'k' }]);
    expect(routeCandidates('auto', 'localhost:1', '/dir/a.json', 'dflt')).toEqual([
      { style: 'path', bucket: 'dir', key: 'a.json' },
      { style: 'cname', bucket: 'dflt', key: 'dir/a.json' },
    ]);
  });
});

describe('fault key globs', () => {
  it('keeps * within a segment and lets ** cross segments', () => {
    expect(globToRegExp('dir/*.csv').test('dir/a.csv')).toBe(true);
    expect(globToRegExp('dir/*.csv').test('dir/x/a.csv')).toBe(false);
    expect(globToRegExp('dir/**').test('dir/x/a.csv')).toBe(true);
    expect(globToRegExp('a+b(1)?.txt').test('a+b(1)x.txt')).toBe(true);
    expect(globToRegExp('a+b(1)?.txt').test('aab(1)x.txt')).toBe(false);
  });
});

describe('ordering and ETags', () => {
  it('orders keys as UTF-8 bytes', () => {
    const keys = ['\u{1F600}', '\uFF21', 'b', 'B', 'a/', 'a', ''];
    const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...keys].sort(compareBytes)).toEqual(byBytes);
  });

  it('computes the multipart ETag over the binary part digests', () => {
    // MD5 of the 32 bytes of two all-zero digests.
    expect(multipartEtag(['00000000000000000000000000000000', '00000000000000000000000000000000'])).toBe('70BC8F4B72A86921468BF8E8441DCE51-2');
  });
});
