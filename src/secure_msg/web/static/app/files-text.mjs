/**
 * The texts of attached files, in the three languages. Kept apart from lang-*.mjs so that the
 * login screen's first load (which fetches the language's table) does not carry them.
 */
import { lang } from './i18n.mjs';

/** @type {Record<string, Record<string, string>>} */
export const TEXTS = {
  fi: {
    attach: 'Liitä tiedostoja',
    take_photo: 'Ota kuva',
    drop_here: 'Pudota tiedostot tähän',
    chosen_files: 'Valitut liitteet',
    remove: 'Poista',
    refused_type: '{name}: tätä tiedostotyyppiä ei voi liittää. Sallittuja ovat PDF, JPEG-, PNG-, WebP- ja HEIC-kuvat, tekstitiedostot ja Office- ja OpenDocument-asiakirjat.',
    refused_size: '{name}: tiedosto on liian suuri ({size}). Yksi liite saa olla enintään {max}.',
    refused_count: 'Yhteen viestiin voi liittää enintään {n} tiedostoa.',
    uploading: 'Salataan ja lähetetään liitettä {i}/{n}: {name}',
    upload_progress: 'Liitteiden lähetys',
    upload_failed: 'Liitettä {name} ei voitu lähettää: {why} Teksti ja valitut tiedostot ovat tallessa; yritä uudelleen.',
    server_too_large: 'palvelin ei ota vastaan näin suurta tiedostoa.',
    server_quota: 'vihkon tila liitteille on täynnä.',
    files_sent: 'Liitteet lähetetty.',
    file_type_image: 'kuva',
    file_type_pdf: 'PDF',
    file_type_text: 'teksti',
    file_type_office: 'asiakirja',
    file_type_other: 'tiedosto',
    loading_image: 'Kuvaa avataan…',
    image_alt: 'Kuva: {name}',
    file_failed: '{name}: tiedosto ei läpäissyt tarkistusta ({code}). Mitään ei tallennettu.',
  },
  sv: {
    attach: 'Bifoga filer',
    take_photo: 'Ta ett foto',
    drop_here: 'Släpp filerna här',
    chosen_files: 'Valda bilagor',
    remove: 'Ta bort',
    refused_type: '{name}: den här filtypen kan inte bifogas. Tillåtna är PDF, JPEG-, PNG-, WebP- och HEIC-bilder, textfiler samt Office- och OpenDocument-dokument.',
    refused_size: '{name}: filen är för stor ({size}). En bilaga får vara högst {max}.',
    refused_count: 'Högst {n} filer kan bifogas till ett meddelande.',
    uploading: 'Krypterar och skickar bilaga {i}/{n}: {name}',
    upload_progress: 'Bilagorna skickas',
    upload_failed: 'Bilagan {name} kunde inte skickas: {why} Texten och de valda filerna finns kvar; försök igen.',
    server_too_large: 'servern tar inte emot så stora filer.',
    server_quota: 'häftets utrymme för bilagor är fullt.',
    files_sent: 'Bilagorna har skickats.',
    file_type_image: 'bild',
    file_type_pdf: 'PDF',
    file_type_text: 'text',
    file_type_office: 'dokument',
    file_type_other: 'fil',
    loading_image: 'Bilden öppnas…',
    image_alt: 'Bild: {name}',
    file_failed: '{name}: filen klarade inte kontrollen ({code}). Ingenting sparades.',
  },
  en: {
    attach: 'Attach files',
    take_photo: 'Take a photo',
    drop_here: 'Drop the files here',
    chosen_files: 'Files to send',
    remove: 'Remove',
    refused_type: '{name}: this type of file cannot be attached. Allowed are PDF, JPEG, PNG, WebP and HEIC images, text files, and Office and OpenDocument documents.',
    refused_size: '{name}: the file is too large ({size}). One attachment may be at most {max}.',
    refused_count: 'At most {n} files can be attached to one message.',
    uploading: 'Encrypting and sending file {i} of {n}: {name}',
    upload_progress: 'Sending the files',
    upload_failed: 'The file {name} could not be sent: {why} Your text and the chosen files are kept; try again.',
    server_too_large: 'the server does not take a file this large.',
    server_quota: "the booklet's space for files is full.",
    files_sent: 'Files sent.',
    file_type_image: 'image',
    file_type_pdf: 'PDF',
    file_type_text: 'text',
    file_type_office: 'document',
    file_type_other: 'file',
    loading_image: 'Opening the image…',
    image_alt: 'Image: {name}',
    file_failed: '{name}: the file failed its checks ({code}). Nothing was saved.',
  },
};

/** @param {string} key @param {Record<string, string | number>} [vars] */
export function ft(key, vars = {}) {
  const text = TEXTS[lang()]?.[key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** "2.4 MB", "830 kB", "12 B": units of 1024 as file managers count, the language's decimal mark. @param {number} n */
export function formatSize(n) {
  const locale = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' }[lang()] ?? 'fi-FI';
  const [value, unit] = n >= 1048576 ? [n / 1048576, 'MB'] : n >= 1024 ? [n / 1024, 'kB'] : [n, 'B'];
  return `${value.toLocaleString(locale, { maximumFractionDigits: value < 10 && unit !== 'B' ? 1 : 0 })} ${unit}`;
}
