/**
 * Detectors, and the Elasticsearch-style shorthand people write them in.
 *
 * Keywords are case-insensitive; clauses come in any order, each at most once:
 *
 * ```text
 * detector := FUNCTION [ "(" [ NAME ] ")" ] { clause }
 * clause   := "by" NAME | "over" NAME | "partition" "by" NAME
 *           | "partitionfield" "=" NAME | "partition_field_name" "=" NAME
 * NAME     := a run of characters other than whitespace, ( ) = and "
 *           | '"' any characters but " '"'
 * ```
 *
 * Examples: `count`, `mean(responsetime) by airline`, `sum(bytes) by "user agent" partition by host`.
 *
 * @module
 */

/** A detector's fields, as Elasticsearch names them (camelCase here). */
export interface DetectorInit {
  /** The function, such as count, mean, high_mean, low_count, sum, max or median. */
  function: string;
  /** The field the function is computed on; required by metric functions, forbidden for count. */
  fieldName?: string;
  /** Splits the analysis into one series per value of this field. */
  byFieldName?: string;
  /** Population analysis (refused by the server for now). */
  overFieldName?: string;
  /** Splits the analysis into independent partitions, one per value of this field. */
  partitionFieldName?: string;
  /** A description; generated from the function and fields when empty. */
  detectorDescription?: string;
  /** A missing split field value forms a series of its own instead of being skipped. */
  useNull?: boolean;
}

/** A detector: its fields, or its shorthand (`"mean(responsetime) by airline"`). */
export type DetectorSpec = string | DetectorInit;

const TOKEN = /\s*(?:("[^"]*")|([()=])|([^\s()="]+)|(\S))/gy;

type Token = { kind: "quoted" | "punct" | "word"; text: string };

/**
 * Reads a detector's shorthand.
 *
 * @param text - such as `mean(responsetime) by airline`.
 * @returns its fields.
 * @throws SyntaxError saying where the text leaves the grammar.
 */
export function parseDetector(text: string): DetectorInit {
  const tokens: Token[] = [];
  const source = text.trimEnd();
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(source); match !== null; match = TOKEN.exec(source)) {
    const [, quoted, punct, word, bad] = match;
    if (bad !== undefined) {
      throw new SyntaxError(`detector ${JSON.stringify(text)}: unterminated quote`);
    }
    if (quoted !== undefined) tokens.push({ kind: "quoted", text: quoted });
    else if (punct !== undefined) tokens.push({ kind: "punct", text: punct });
    else if (word !== undefined) tokens.push({ kind: "word", text: word });
  }
  let pos = 0;
  const expected = (what: string, back = 0): SyntaxError => {
    const token = tokens[pos - back];
    const found = token === undefined ? "the end" : JSON.stringify(token.text);
    return new SyntaxError(`detector ${JSON.stringify(text)}: expected ${what}, found ${found}`);
  };
  const take = (kind: Token["kind"], value?: string): string | undefined => {
    const token = tokens[pos];
    if (token !== undefined && token.kind === kind && (value === undefined || token.text.toLowerCase() === value)) {
      pos += 1;
      return token.text;
    }
    return undefined;
  };
  const need = (kind: Token["kind"], what: string, value?: string): string => {
    const found = take(kind, value);
    if (found === undefined) throw expected(what);
    return found;
  };
  const name = (): string => {
    const token = tokens[pos];
    if (token?.kind === "word" || (token?.kind === "quoted" && token.text !== '""')) {
      pos += 1;
      return token.kind === "word" ? token.text : token.text.slice(1, -1);
    }
    throw expected("a field name");
  };

  const detector: DetectorInit = { function: need("word", "a function name") };
  if (take("punct", "(") !== undefined && take("punct", ")") === undefined) {
    detector.fieldName = name();
    need("punct", "')'", ")");
  }
  while (pos < tokens.length) {
    const keyword = need("word", "by, over or partition").toLowerCase();
    let key: "byFieldName" | "overFieldName" | "partitionFieldName";
    if (keyword === "by") {
      key = "byFieldName";
    } else if (keyword === "over") {
      key = "overFieldName";
    } else if (keyword === "partition") {
      need("word", "'by' after 'partition'", "by");
      key = "partitionFieldName";
    } else if (keyword === "partitionfield" || keyword === "partition_field_name") {
      need("punct", "'='", "=");
      key = "partitionFieldName";
    } else {
      throw expected("by, over or partition", 1);
    }
    if (detector[key] !== undefined) {
      throw new SyntaxError(`detector ${JSON.stringify(text)}: ${key} is given twice`);
    }
    detector[key] = name();
  }
  return detector;
}

/** A detector's fields, reading shorthand. */
export function toDetectorInit(spec: DetectorSpec): DetectorInit {
  return typeof spec === "string" ? parseDetector(spec) : spec;
}
