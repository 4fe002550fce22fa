//! The site's written content, embedded at compile time and rendered once at start-up: docs, blog posts and
//! pages from `content/` (markdown with a TOML front matter block between `+++` lines), the changelog from the
//! repository's `CHANGELOG.md`, and the settings table from the README (the same table the settings code is
//! tested against).

use crate::markdown;
use rust_embed::RustEmbed;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(RustEmbed)]
#[folder = "content/"]
struct Files;

/// The repository's changelog, rendered at `/changelog`.
const CHANGELOG: &str = include_str!("../../../CHANGELOG.md");
/// The README, whose settings table is appended to the configuration doc.
const README: &str = include_str!("../../../README.md");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    summary: String,
    date: Option<String>,
    author: Option<String>,
    order: Option<i64>,
}

/// A rendered markdown document.
#[derive(Debug, Clone)]
pub struct Doc {
    /// URL slug (file name without date or extension).
    pub slug: String,
    /// Title (the page's `<h1>`).
    pub title: String,
    /// One-sentence summary (meta description, listings).
    pub summary: String,
    /// Publication date `YYYY-MM-DD` (blog posts).
    pub date: String,
    /// Author (blog posts).
    pub author: String,
    /// Position in the docs navigation.
    pub order: i64,
    /// The body as HTML, rendered from markdown with raw HTML escaped.
    pub html: String,
}

/// Everything the public pages show.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// Docs in navigation order.
    pub docs: Vec<Doc>,
    /// Blog posts, newest first.
    pub posts: Vec<Doc>,
    /// Pages by name (`home`, `support`, `integrations`, `privacy`, `terms`).
    pub pages: BTreeMap<String, Doc>,
    /// `CHANGELOG.md` as HTML.
    pub changelog: String,
}

fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text.strip_prefix("+++")?.trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n'))?;
    let end = rest.find("\n+++")?;
    let front = &rest[..end];
    let body = rest[end + 4..].trim_start_matches(['\r', '\n']);
    Some((front, body))
}

/// Parses one content file; the error names the file and the problem.
fn parse(path: &str, text: &str, slug: String) -> Result<Doc, String> {
    let (front, body) =
        split_front_matter(text).ok_or_else(|| format!("{path}: no +++ front matter block at the top"))?;
    let meta: FrontMatter = toml::from_str(front).map_err(|err| format!("{path}: front matter: {}", err.message()))?;
    Ok(Doc {
        slug,
        title: meta.title,
        summary: meta.summary,
        date: meta.date.unwrap_or_default(),
        author: meta.author.unwrap_or_default(),
        order: meta.order.unwrap_or(i64::MAX),
        html: markdown::render(body),
    })
}

fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The README's settings table (from `## Settings` to the next section), as markdown.
pub fn settings_table_markdown() -> &'static str {
    let Some(start) = README.find("\n## Settings") else {
        return "";
    };
    let section = &README[start + 1..];
    let body_start = section.find('\n').map_or(section.len(), |i| i + 1);
    let end = section[body_start..]
        .find("\n#")
        .map_or(section.len(), |i| body_start + i);
    &section[body_start..end]
}

/// The environment names in the first column of the README's settings table.
pub fn settings_names() -> Vec<&'static str> {
    settings_table_markdown()
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .collect()
}

impl Site {
    /// Loads and renders every content file. A file that cannot be read is an error naming it (a test loads
    /// the site, so a broken file fails the build's tests rather than a running server).
    pub fn load() -> Result<Site, String> {
        let mut site = Site::default();
        for path in Files::iter() {
            let Some(file) = Files::get(&path) else { continue };
            let text = std::str::from_utf8(&file.data).map_err(|_| format!("{path}: not UTF-8"))?;
            let (dir, name) = path.split_once('/').unwrap_or(("", &path));
            let Some(stem) = name.strip_suffix(".md") else { continue };
            match dir {
                "docs" => {
                    if !valid_slug(stem) {
                        return Err(format!("{path}: file names are lowercase-hyphenated slugs"));
                    }
                    site.docs.push(parse(&path, text, stem.to_owned())?);
                }
                "blog" => {
                    // <yyyy-mm-dd>-<slug>.md
                    let (date, slug) = (stem.get(..10), stem.get(11..));
                    let (Some(date), Some(slug)) = (date, slug) else {
                        return Err(format!("{path}: blog posts are named <yyyy-mm-dd>-<slug>.md"));
                    };
                    if !valid_slug(slug) || chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                        return Err(format!("{path}: blog posts are named <yyyy-mm-dd>-<slug>.md"));
                    }
                    let mut post = parse(&path, text, slug.to_owned())?;
                    if post.date.is_empty() {
                        post.date = date.to_owned();
                    }
                    if chrono::NaiveDate::parse_from_str(&post.date, "%Y-%m-%d").is_err() {
                        return Err(format!("{path}: date must be YYYY-MM-DD"));
                    }
                    site.posts.push(post);
                }
                "pages" if valid_slug(stem) => {
                    site.pages.insert(stem.to_owned(), parse(&path, text, stem.to_owned())?);
                }
                _ => return Err(format!("{path}: not in docs/, blog/ or pages/")),
            }
        }
        site.docs
            .sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.slug.cmp(&b.slug)));
        site.posts
            .sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.slug.cmp(&b.slug)));
        // The configuration doc lists every setting: when its own text misses one the README's table has (a
        // setting added since it was written), the README's table is appended (a test checks the page against
        // the settings code).
        if let Some(config) = site.docs.iter_mut().find(|d| d.slug == "configuration")
            && settings_names()
                .iter()
                .any(|name| !config.html.contains(&format!("<code>{name}</code>")))
        {
            config.html.push_str("<h2 id=\"every-setting\">Every setting</h2>\n");
            config.html.push_str(&markdown::render(settings_table_markdown()));
        }
        site.changelog = markdown::render(CHANGELOG);
        Ok(site)
    }

    /// The doc with this slug.
    pub fn doc(&self, slug: &str) -> Option<&Doc> {
        self.docs.iter().find(|d| d.slug == slug)
    }

    /// The post with this slug.
    pub fn post(&self, slug: &str) -> Option<&Doc> {
        self.posts.iter().find(|d| d.slug == slug)
    }

    /// The page with this name.
    pub fn page(&self, name: &str) -> Option<&Doc> {
        self.pages.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_content_file_loads() {
        let site = Site::load().unwrap_or_else(|err| panic!("{err}"));
        assert!(!site.changelog.is_empty());
        for post in &site.posts {
            assert_eq!(post.date.len(), 10, "{}", post.slug);
        }
    }

    #[test]
    fn front_matter_is_required_and_parsed() {
        assert!(parse("x.md", "# no front matter", "x".into()).is_err());
        let doc = parse(
            "x.md",
            "+++\ntitle = \"T <b>\"\nsummary = \"S\"\norder = 2\n+++\n\n# T\n\nBody\n",
            "x".into(),
        )
        .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(doc.title, "T <b>");
        assert_eq!(doc.order, 2);
        assert!(doc.html.contains("<p>Body</p>"));
    }

    #[test]
    fn the_readme_settings_table_is_found() {
        let table = settings_table_markdown();
        assert!(table.contains("| `KITH_BIND`"), "{table}");
        assert!(!table.contains("### "), "{table}");
        let names = settings_names();
        assert!(
            names.contains(&"KITH_BIND") && names.contains(&"DATABASE_URL"),
            "{names:?}"
        );
    }
}
