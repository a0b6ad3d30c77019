// docs/errors.md, rendered from the error catalogue (src/domain/errors.ts). `npm run docs:errors` writes it;
// test/unit/errors.test.ts fails when the file and the catalogue disagree.
import { ERROR_CATALOGUE } from "./errors.js";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CATALOGUE)
    .sort(([a, x], [b, y]) => x.status - y.status || a.localeCompare(b))
    .map(([code, e]) => `| \`${code}\` | ${e.status} | ${cell(`\`${e.message}\``)} | ${cell(e.doc)} |`);
  return [
    "# Errors",
    "",
    "<!-- Generated from src/domain/errors.ts by `npm run docs:errors`; edit the catalogue, not this file. -->",
    "",
    "Every expected failure the App answers with has one entry in the catalogue (src/domain/errors.ts): a",
    "stable `code`, its HTTP status and its message. An error answer's body is",
    '`{"message": <message>, "code": <code>}`, except where ServiceX clients expect an exact body: the',
    'token routes answer `{"msg": <message>}` as flask-jwt-extended did, the authentication checks and a few',
    'admin routes `{"message": <message>}`, reqparse-style field errors `{"message": {<field>: <reason>}}`.',
    "5xx answers other than 503 say only `Internal Server Error` (the details are in the log); 503 answers",
    "carry `Retry-After`. In a message, `{name}` stands for a value of the request at hand; `{detail}` means",
    "the message is chosen where the error happens (the column “when” gives the cases).",
    "",
    "| code | status | message | when |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
