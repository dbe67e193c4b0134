// Sportello's reduction of Bootstrap Italia's bundle: only the plugins the pages use.
// Each module registers its own data-api handlers when imported. design-system/build.mjs
// bundles this file (esbuild, IIFE, minified) to js/bootstrap-italia.bundle.min.js.
// Never loadFonts(): it injects an inline <style>, which the CSP refuses
// (themes/base/static/fonts.css declares the fonts instead).

// Focus ring only for keyboard users (.focus--mouse), as the full bundle's init().
import 'bootstrap-italia/dist/plugins/init.js';
// Header: the mobile menu (hamburger, data-bs-toggle="navbarcollapsible").
import NavBarCollapsible from 'bootstrap-italia/dist/plugins/navbar-collapsible.js';
// Procedure page: the page index (accordion over collapse, data-bs-navscroll).
import Collapse from 'bootstrap-italia/dist/plugins/collapse.js';
import Accordion from 'bootstrap-italia/dist/plugins/accordion.js';
import NavScroll from 'bootstrap-italia/dist/plugins/navscroll.js';
// Forms: labels that move above their input (.active) on focus or when filled.
import Input from 'bootstrap-italia/dist/plugins/input.js';

export { NavBarCollapsible, Collapse, Accordion, NavScroll, Input };
