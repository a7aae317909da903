import { parse } from 'node:querystring';
import { InvalidParamError } from './errors';

/**
 * A query string with one value per parameter. A repeated parameter (`?signature=a&signature=b`)
 * is refused with INVALID_PARAM: picking one of its values (egg's `ctx.query` takes the first)
 * would let a request mean one thing to a proxy or a log and another to us. Read as written:
 * `a[]=1` is the parameter `a[]`, not an alias of `a` (egg's `ctx.queries` makes it one).
 */
export function parseSingleQuery(querystring: string): Record<string, string> {
  const query: Record<string, string> = Object.create(null);
  const repeated: string[] = [];
  for (const [ name, value ] of Object.entries(parse(querystring))) {
    if (name === '') continue; // `a=b&`: nothing named
    if (Array.isArray(value)) repeated.push(name);
    else query[name] = value ?? '';
  }
  if (repeated.length > 0) {
    // Names only, each cut short: never the input at length.
    const fields = repeated.slice(0, 10).map(name => ({ field: name.slice(0, 64), message: `${name.slice(0, 64)} must be given once` }));
    throw new InvalidParamError(`repeated query parameters: ${fields.map(f => f.field).join(', ')}`, fields);
  }
  return query;
}
