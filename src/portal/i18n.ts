/** The portal's languages: Spanish first (CELLVI's customers are Latin American), English second. */
export const languages = ["es", "en"] as const;
export type Language = (typeof languages)[number];

export function isLanguage(value: string): value is Language {
  return (languages as readonly string[]).includes(value);
}

/**
 * The language a visitor without one in the URL gets: the first of ours in Accept-Language (by q value), Spanish
 * otherwise.
 */
export function preferredLanguage(acceptLanguage: string | undefined): Language {
  const ranked = (acceptLanguage ?? "")
    .split(",")
    .map((part, index) => {
      const [tag = "", ...params] = part.trim().split(";");
      const q = params.map((p) => /^q=([0-9.]+)$/.exec(p.trim())?.[1]).find(Boolean);
      return { base: tag.toLowerCase().split("-")[0] ?? "", q: q ? Number(q) : 1, index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  return ranked.map((entry) => entry.base).find(isLanguage) ?? "es";
}

/** Interface strings (guide content lives in the Markdown files). */
export const ui = {
  es: {
    languageName: "Español",
    switchTo: "Read this page in English",
    portal: "Desarrolladores",
    skip: "Saltar al contenido",
    guides: "Guías",
    sections: {
      start: "Empezar",
      concepts: "Conceptos",
      features: "Funciones",
      operate: "Operar",
      more: "Más",
    },
    reference: "Referencia",
    apiReference: "Referencia de la API",
    postman: "Colección de Postman",
    onThisPage: "En esta página",
    previous: "Anterior",
    next: "Siguiente",
    notFound: "Página no encontrada",
    notFoundText: "Esta página no existe. Vuelva al inicio del portal.",
    referenceIntro:
      "Todas las operaciones, con sus esquemas, ejemplos y errores. Sin JavaScript se ve la lista de operaciones; con JavaScript, la referencia interactiva.",
    operations: "Operaciones",
    webhookEvents: "Eventos de webhook",
    downloads: "Descargas",
    version: "Versión de la API",
    sandboxNote: "Las claves que empiezan por cvk_test_ trabajan con datos de prueba.",
  },
  en: {
    languageName: "English",
    switchTo: "Lee esta página en español",
    portal: "Developers",
    skip: "Skip to content",
    guides: "Guides",
    sections: {
      start: "Get started",
      concepts: "Concepts",
      features: "Features",
      operate: "Operate",
      more: "More",
    },
    reference: "Reference",
    apiReference: "API reference",
    postman: "Postman collection",
    onThisPage: "On this page",
    previous: "Previous",
    next: "Next",
    notFound: "Page not found",
    notFoundText: "This page does not exist. Go back to the portal's home.",
    referenceIntro:
      "Every operation, with its schemas, examples and errors. Without JavaScript you see the list of operations; with it, the interactive reference.",
    operations: "Operations",
    webhookEvents: "Webhook events",
    downloads: "Downloads",
    version: "API version",
    sandboxNote: "Keys starting with cvk_test_ work on test data.",
  },
} as const;
