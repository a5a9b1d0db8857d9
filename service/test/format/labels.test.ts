import { LABELS_JSON_FILE, LABELS_TXT_FILE, ONE_UNIT_FIX, parseLabelsFile } from '../../src/model/format';

describe('labels.json', () => {
  test('is a JSON array of strings, in output order, names may repeat', () => {
    expect(LABELS_JSON_FILE).toBe('labels.json');
    expect(parseLabelsFile('labels.json', '["dog", "cat", "dog"]')).toEqual(['dog', 'cat', 'dog']);
    // Labels are kept as written: 200 characters is the longest allowed.
    expect(parseLabelsFile('labels.json', JSON.stringify([' a ', 'x'.repeat(200)]))).toEqual([
      ' a ',
      'x'.repeat(200),
    ]);
  });

  test('fails when it is not JSON, saying what to write', () => {
    expect(() => parseLabelsFile('labels.json', '["cat",')).toThrow(
      /^labels\.json: not valid JSON \(.+\): write a JSON array of strings$/,
    );
  });

  test('fails naming the element that is not a label, or the root when it is not a non-empty array', () => {
    const fix = ': write a JSON array of non-empty strings, one per class in output order';
    const message = (text: string): string => {
      try {
        parseLabelsFile('labels.json', text);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`accepted ${text}`);
    };
    expect(message('["cat", ""]')).toMatch(/^labels\.json: '1' .+: write a JSON array/);
    expect(message('["cat", ""]').endsWith(fix)).toBe(true);
    expect(message(JSON.stringify(['cat', 'x'.repeat(201)]))).toMatch(/^labels\.json: '1' /);
    expect(message('["cat", 2]')).toMatch(/^labels\.json: '1' /);
    expect(message('[]')).toMatch(/^labels\.json: '\(root\)' .+: write a JSON array/);
    expect(message('{"labels": ["cat"]}')).toMatch(/^labels\.json: '\(root\)' /);
    expect(message('["cat"]')).toMatch(
      /^labels\.json: '\(root\)' a classifier has at least 2 classes, one label each: /,
    );
  });
});

describe('labels.txt', () => {
  test('has one label per line, LF or CRLF, with or without a trailing newline, spaces trimmed', () => {
    expect(LABELS_TXT_FILE).toBe('labels.txt');
    expect(parseLabelsFile('labels.txt', 'cat\ndog\n')).toEqual(['cat', 'dog']);
    expect(parseLabelsFile('labels.txt', 'cat\r\ndog')).toEqual(['cat', 'dog']);
    expect(parseLabelsFile('labels.txt', '  tabby cat \r\n\tdog\r\n')).toEqual(['tabby cat', 'dog']);
    expect(parseLabelsFile('labels.txt', 'cat\ndog')).toEqual(['cat', 'dog']);
    expect(parseLabelsFile('labels.txt', `${'x'.repeat(200)}\ny\n`)).toEqual(['x'.repeat(200), 'y']);
  });

  test('is not read as JSON: a JSON array is one label, and one label is not a classifier', () => {
    expect(() => parseLabelsFile('labels.txt', '["cat", "dog"]')).toThrow(
      `labels.txt: a classifier has at least 2 classes, one label each: ${ONE_UNIT_FIX}`,
    );
  });

  test('fails when it holds no labels', () => {
    const fix = ': write one label per line, one per class in output order';
    expect(() => parseLabelsFile('labels.txt', '')).toThrow(`labels.txt: no labels${fix}`);
  });

  test('fails naming the first line that is empty or longer than 200 characters', () => {
    const fix = ': write one label per line, one per class in output order';
    expect(() => parseLabelsFile('labels.txt', 'cat\n\ndog\n')).toThrow(
      `labels.txt: line 2 is empty or longer than 200 characters${fix}`,
    );
    expect(() => parseLabelsFile('labels.txt', 'cat\n   \n')).toThrow(`labels.txt: line 2 is empty`);
    expect(() => parseLabelsFile('labels.txt', '\ncat\n')).toThrow(`labels.txt: line 1 is empty`);
    expect(() => parseLabelsFile('labels.txt', `cat\ndog\n${'x'.repeat(201)}\n`)).toThrow(
      `labels.txt: line 3 is empty or longer than 200 characters${fix}`,
    );
    // Only one trailing newline is allowed: a second one is an empty last line.
    expect(() => parseLabelsFile('labels.txt', 'cat\n\n')).toThrow(`labels.txt: line 2 is empty`);
  });
});
