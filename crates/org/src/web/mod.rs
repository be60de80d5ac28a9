//! HTTP for organisations: the `OrgMember` extractor other domains use, the
//! JSON API and the pages.

pub mod access;
pub mod api;
pub mod pages;

pub use access::OrgMember;
