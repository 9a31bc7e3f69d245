import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GuideLibrary } from "../../src/portal/guides.ts";
import { ui } from "../../src/portal/i18n.ts";
import { projectPath } from "../../src/project-root.ts";

/**
 * The Spanish docs speak with one voice: "usted" (B2B technical readers across Latin America) and "orden" for an
 * order (the word of the API's own Spanish strings). Code blocks are samples, not prose, and stay as written; so do
 * the platforms' own screen labels in bold (WooCommerce's **Pedido creado**) and text quoted from their screens.
 */
const library = new GuideLibrary();

/** A guide's prose: its Markdown with fenced code left out and inline code, bold labels and quotes as "X". */
function prose(source: string): string {
  return source
    .replace(/^```[\s\S]*?^```/gm, "")
    .replace(/`[^`]*`/g, "X")
    .replace(/\*\*[^*]*\*\*/g, "X")
    .replace(/"[^"]{0,200}"/g, "X");
}

/** Words that can only address the reader as "tú": pronouns and second-person verb forms the guides used. */
const alwaysTu =
  /(?<![\p{L}])(tú|tu|tus|ti|contigo|puedes|tienes|necesitas|quieres|debes|recibes|usas|haces|verás|recibirás|podrás|obtén|suscríbete|sáltate|rastréala|entrégalo|guárdala|léela|pregúntale|dale|ponle|impórtala|haz|pon)(?![\p{L}])/giu;

/** Imperatives that also read as the third person ("la API crea"): "tú" only where a sentence, paragraph or item starts. */
const leadingImperative =
  /(?:^|\.\s+|\n\n|\n\s*(?:#+\s+|\d+\.\s+|-\s+))(crea|usa|envía|guarda|copia|revisa|corrige|reintenta|prueba|comprueba|ejecuta|consulta|define|mira|añade|pide|sube|exporta|vuelve|lee|rota|inicia|simula)(?![\p{L}])/giu;

/** The other word for an order, as a noun (the participle, "el estado pedido", is reworded too). */
const pedido = /(?<![\p{L}])pedidos?(?![\p{L}])/giu;

function secondPerson(text: string): string[] {
  return [...text.matchAll(alwaysTu), ...text.matchAll(leadingImperative)].map((match) => match[0].trim());
}

describe("the Spanish guides and portal strings", () => {
  it.each(
    library
      .all()
      .filter((guide) => guide.lang === "es")
      .map((guide) => [guide.slug, guide] as const),
  )("es/%s.md says usted and orden", (_slug, guide) => {
    const text = prose(guide.source);
    expect(secondPerson(text), "tú forms").toEqual([]);
    expect(text.match(pedido) ?? [], "pedido").toEqual([]);
  });

  it("the portal's Spanish interface strings agree", () => {
    const strings = JSON.stringify(ui.es);
    expect(secondPerson(strings.replaceAll('","', '". "'))).toEqual([]);
    expect(strings.match(pedido) ?? []).toEqual([]);
  });
});

describe("the READMEs", () => {
  const read = (name: string) => readFileSync(projectPath(name), "utf8");
  const bashBlocks = (text: string) =>
    [...text.matchAll(/^```bash\n([\s\S]*?)^```/gm)].map((match) => match[1]);

  it("link to each other", () => {
    expect(read("README.md")).toContain("(README.es.md)");
    expect(read("README.es.md")).toContain("(README.md)");
  });

  it("show the same two commands", () => {
    expect(bashBlocks(read("README.es.md"))).toEqual(bashBlocks(read("README.md")));
    expect(bashBlocks(read("README.md"))).toEqual(["npm install && npm start\n", "npm test\n"]);
  });

  it("the Spanish one says usted and orden too", () => {
    const spanish = prose(read("README.es.md"));
    expect(secondPerson(spanish)).toEqual([]);
    expect(spanish.match(pedido) ?? []).toEqual([]);
  });
});
