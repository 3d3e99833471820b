import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parameterValues } from '../../../src/http/media-type.js';

describe('parameterValues', () => {
  test('finds a parameter by name in any case, its value as given', () => {
    assert.deepEqual(parameterValues('application/json; charset=utf-8', 'charset'), ['utf-8']);
    assert.deepEqual(parameterValues('application/json;CHARSET=UTF-16', 'charset'), ['UTF-16']);
    assert.deepEqual(parameterValues('application/json ; v=1 ;charset=latin1 ', 'charset'), ['latin1']);
    assert.deepEqual(parameterValues('application/json; charset=utf-8; charset=utf-16', 'charset'), ['utf-8', 'utf-16']);
  });

  test('unquotes a quoted string, where a `;` or `=` does not end the value', () => {
    assert.deepEqual(parameterValues('application/json; charset="utf-8"', 'charset'), ['utf-8']);
    assert.deepEqual(parameterValues('application/json; x="a;charset=utf-16"; charset=utf-8', 'charset'), ['utf-8']);
    assert.deepEqual(parameterValues('application/json; x="a\\";charset=utf-16"', 'charset'), []);
    assert.deepEqual(parameterValues('application/json; charset="ut\\f-8"', 'charset'), ['utf-8']);
    assert.deepEqual(parameterValues('application/json; charset="utf-8', 'charset'), ['utf-8']);
  });

  test('whitespace around "=", which RFC 9110 §5.6.6 does not allow, is read past: the value is the one the sender meant', () => {
    // Refusing it would turn a UTF-8 upload away for a space; reading past it cannot change a framing or a route.
    assert.deepEqual(parameterValues('application/json; charset= "utf-8"', 'charset'), ['utf-8']);
    assert.deepEqual(parameterValues('application/json; charset=\t"utf-16"', 'charset'), ['utf-16']);
    assert.deepEqual(parameterValues('application/json; charset = utf-8', 'charset'), ['utf-8']);
  });

  test('nothing for a type without parameters, and parameters without a value are skipped', () => {
    for (const value of ['application/json', 'application/json;', 'application/json; ;', 'application/json; charset', 'application/json; charsetx=utf-16']) {
      assert.deepEqual(parameterValues(value, 'charset'), [], value);
    }
    assert.deepEqual(parameterValues('application/json; charset; charset=utf-16', 'charset'), ['utf-16']);
    assert.deepEqual(parameterValues('application/json; charset=', 'charset'), ['']);
  });

  test('a long run of `;` is read in linear time: the search for `=` is not repeated for each', () => {
    const searches: unknown[] = [];
    const indexOf = String.prototype.indexOf;
    String.prototype.indexOf = function (this: string, ...args: Parameters<string['indexOf']>): number {
      if (args[0] === '=') searches.push(args[1]);
      return indexOf.apply(this, args);
    };
    try {
      assert.deepEqual(parameterValues(`application/json${';'.repeat(8192)}charset=utf-16`, 'charset'), ['utf-16']);
      assert.deepEqual(parameterValues(`application/json${';'.repeat(8192)}`, 'charset'), []);
    } finally {
      String.prototype.indexOf = indexOf;
    }
    assert.ok(searches.length <= 4, `${searches.length} searches for '='`);
  });
});
