// In-process code generators: the `passthrough` generator of the embedded default (a pipeline test whose
// transformer delivers each input file unchanged; the selection is recorded, never evaluated), and a
// composite that routes a codegen name to the first generator offering it.

import { strToU8, zipSync } from "fflate";
import { CodeGenError } from "../../domain/errors.js";
import type { CodeGenerator, GeneratedCode } from "../../domain/ports.js";

export const PASSTHROUGH_CODEGEN = "passthrough";
export const PASSTHROUGH_IMAGE = "servicex/passthrough-transformer:builtin";
export const PASSTHROUGH_LANGUAGE = "bash";
export const PASSTHROUGH_COMMAND = "passthrough";
export const CAPABILITIES_FILE = "transformer_capabilities.json";
/** Holds the selection text exactly as submitted. */
export const PASSTHROUGH_SCRIPT_FILE = "generated_transformer.sh";

export const PASSTHROUGH_CAPABILITIES = {
  name: "passthrough",
  description:
    "Pipeline test, not a real transformer: each input file is delivered unchanged and the selection " +
    "is not applied (it is only stored in generated_transformer.sh).",
  limitations: "Ignores the selection; the output is a copy of the input file.",
  "file-formats": ["root-file", "parquet"],
  language: PASSTHROUGH_LANGUAGE,
  command: PASSTHROUGH_COMMAND,
} as const;

// Fixed local-time mtime, so the same selection always yields the same zip bytes in any time zone
// (zip stores DOS local time).
const ZIP_MTIME = new Date(2020, 0, 1, 0, 0, 0);

const codegenUnavailable = (codegen: string) =>
  new CodeGenError(`${codegen}, code generator unavailable for use`, 400);

export class BuiltinCodeGenerator implements CodeGenerator {
  private readonly image: string;

  constructor(opts: { image?: string } = {}) {
    this.image = opts.image ?? PASSTHROUGH_IMAGE;
  }

  names(): string[] {
    return [PASSTHROUGH_CODEGEN];
  }

  async generate(codegen: string, selection: string): Promise<GeneratedCode> {
    if (codegen !== PASSTHROUGH_CODEGEN) throw codegenUnavailable(codegen);
    const zip = zipSync(
      {
        [CAPABILITIES_FILE]: strToU8(JSON.stringify(PASSTHROUGH_CAPABILITIES, null, 2) + "\n"),
        [PASSTHROUGH_SCRIPT_FILE]: strToU8(selection),
      },
      { level: 6, mtime: ZIP_MTIME },
    );
    return {
      image: this.image,
      language: PASSTHROUGH_LANGUAGE,
      command: PASSTHROUGH_COMMAND,
      zip: Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength),
    };
  }
}

/** Routes each codegen name to the first generator that lists it. */
export class CompositeCodeGenerator implements CodeGenerator {
  private readonly generators: readonly CodeGenerator[];

  constructor(generators: readonly CodeGenerator[]) {
    this.generators = [...generators];
  }

  names(): string[] {
    return [...new Set(this.generators.flatMap((g) => g.names()))];
  }

  async generate(codegen: string, selection: string): Promise<GeneratedCode> {
    const generator = this.generators.find((g) => g.names().includes(codegen));
    if (!generator) throw codegenUnavailable(codegen);
    return generator.generate(codegen, selection);
  }
}
