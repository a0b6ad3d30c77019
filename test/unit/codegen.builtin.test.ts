import { strFromU8, unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import {
  BuiltinCodeGenerator,
  CompositeCodeGenerator,
  PASSTHROUGH_IMAGE,
} from "../../src/adapters/codegen/builtin.codegen.js";
import { CodeGenError } from "../../src/domain/errors.js";
import type { CodeGenerator, GeneratedCode } from "../../src/domain/ports.js";

describe("BuiltinCodeGenerator (passthrough)", () => {
  it("generates image, language, command and a zip holding capabilities and the selection", async () => {
    const gen = new BuiltinCodeGenerator();
    expect(gen.names()).toEqual(["passthrough"]);
    const selection = "(call Select (call EventDataset 'x') (lambda (list e) e))\r\n  ünïcode ✓\n";
    const out = await gen.generate("passthrough", selection);
    expect(out.image).toBe(PASSTHROUGH_IMAGE);
    expect(out.image).toBe("servicex/passthrough-transformer:builtin");
    expect(out.language).toBe("bash");
    expect(out.command).toBe("passthrough");
    expect(Buffer.isBuffer(out.zip)).toBe(true);

    const files = unzipSync(out.zip);
    expect(Object.keys(files).sort()).toEqual(["generated_transformer.sh", "transformer_capabilities.json"]);
    expect(strFromU8(files["generated_transformer.sh"]!)).toBe(selection);
    const caps = JSON.parse(strFromU8(files["transformer_capabilities.json"]!));
    expect(caps).toMatchObject({
      name: "passthrough",
      language: "bash",
      command: "passthrough",
      "file-formats": ["root-file", "parquet"],
    });
    expect(caps.description).toMatch(/pipeline test/i);
    expect(caps.description).toMatch(/unchanged/);
  });

  it("is deterministic and keeps an empty selection", async () => {
    const gen = new BuiltinCodeGenerator();
    const a = await gen.generate("passthrough", "same");
    const b = await gen.generate("passthrough", "same");
    expect(a.zip.equals(b.zip)).toBe(true);
    const empty = await gen.generate("passthrough", "");
    expect(strFromU8(unzipSync(empty.zip)["generated_transformer.sh"]!)).toBe("");
  });

  it("allows another image", async () => {
    const out = await new BuiltinCodeGenerator({ image: "local/pt:1" }).generate("passthrough", "s");
    expect(out.image).toBe("local/pt:1");
  });

  it("rejects other names with a 400 CodeGenError", async () => {
    const err = await new BuiltinCodeGenerator().generate("uproot", "s").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodeGenError);
    expect((err as CodeGenError).status).toBe(400);
    expect((err as CodeGenError).message).toBe("uproot, code generator unavailable for use");
  });
});

function fake(names: string[], image: string, calls: string[]): CodeGenerator {
  return {
    names: () => names,
    async generate(codegen: string, selection: string): Promise<GeneratedCode> {
      calls.push(`${image}:${codegen}:${selection}`);
      if (codegen === "broken") throw new CodeGenError("Failed to generate translation code: boom");
      return { image, language: "python", command: "c", zip: Buffer.from("PK\x05\x06") };
    },
  };
}

describe("CompositeCodeGenerator", () => {
  it("lists every name once, in order, and routes to the first generator offering it", async () => {
    const calls: string[] = [];
    const composite = new CompositeCodeGenerator([
      fake(["uproot", "python"], "first", calls),
      new BuiltinCodeGenerator(),
      fake(["python", "cms", "broken"], "second", calls),
    ]);
    expect(composite.names()).toEqual(["uproot", "python", "passthrough", "cms", "broken"]);
    expect((await composite.generate("python", "s1")).image).toBe("first");
    expect((await composite.generate("cms", "s2")).image).toBe("second");
    expect((await composite.generate("passthrough", "s3")).image).toBe(PASSTHROUGH_IMAGE);
    expect(calls).toEqual(["first:python:s1", "second:cms:s2"]);
  });

  it("propagates the chosen generator's error and rejects unknown names with 400", async () => {
    const composite = new CompositeCodeGenerator([fake(["broken"], "x", [])]);
    await expect(composite.generate("broken", "s")).rejects.toThrow(
      "Failed to generate translation code: boom",
    );
    const err = await composite.generate("nope", "s").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodeGenError);
    expect((err as CodeGenError).status).toBe(400);
    expect((err as CodeGenError).message).toBe("nope, code generator unavailable for use");
  });

  it("with no generators offers nothing", async () => {
    const composite = new CompositeCodeGenerator([]);
    expect(composite.names()).toEqual([]);
    await expect(composite.generate("passthrough", "s")).rejects.toBeInstanceOf(CodeGenError);
  });
});
