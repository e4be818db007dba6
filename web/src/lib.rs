//! Server-rendered pages (askama + HTMX): the owner's panel (`/admin`) and the partner's
//! dashboard (`/dashboard`). Empty until those pages are built; the crate exists so the
//! workspace has its final shape and the layering (web is a face over commands and
//! projections, like api) is fixed from the start.
