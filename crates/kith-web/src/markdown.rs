//! Markdown to HTML for the site's own content: CommonMark with tables, strikethrough and heading ids; raw HTML
//! in the source is shown as text (escaped), never passed through, and links with a scheme other than http(s),
//! mailto or a site-relative path lose their target.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_HEADING_ATTRIBUTES
}

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || lower.starts_with('/')
        || lower.starts_with('#')
        || !lower.contains(':')
}

/// `url` when it is safe to follow, else `fallback`.
fn safe_or<'a>(url: CowStr<'a>, fallback: &'static str) -> CowStr<'a> {
    if safe_url(&url) { url } else { CowStr::from(fallback) }
}

/// Renders `source` to HTML. A leading level-1 heading is dropped (pages print their title as the `<h1>`).
pub fn render(source: &str) -> String {
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut skipping_title = false;
    let mut seen_content = false;
    let mut heading_text = String::new();
    let mut in_heading: Option<HeadingLevel> = None;
    for event in Parser::new_ext(source, options()) {
        match &event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                ..
            }) if !seen_content => {
                skipping_title = true;
                continue;
            }
            Event::End(TagEnd::Heading(HeadingLevel::H1)) if skipping_title => {
                skipping_title = false;
                seen_content = true;
                continue;
            }
            _ if skipping_title => continue,
            _ => seen_content = true,
        }
        let event = match event {
            // Raw HTML is shown, not interpreted.
            Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: safe_or(dest_url, "#"),
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Image {
                link_type,
                dest_url: safe_or(dest_url, ""),
                title,
                id,
            }),
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => {
                in_heading = Some(level);
                heading_text.clear();
                Event::Start(Tag::Heading {
                    level,
                    id,
                    classes,
                    attrs,
                })
            }
            other => other,
        };
        if in_heading.is_some()
            && let Event::Text(t) | Event::Code(t) = &event
        {
            heading_text.push_str(t);
        }
        if let Event::End(TagEnd::Heading(_)) = &event {
            in_heading = None;
            // Give headings without an explicit id one made from their text, for links to a section.
            if let Some(index) = events
                .iter()
                .rposition(|e| matches!(e, Event::Start(Tag::Heading { .. })))
                && let Event::Start(Tag::Heading { id, .. }) = &mut events[index]
                && id.is_none()
            {
                *id = Some(CowStr::from(slug(&heading_text)));
            }
        }
        events.push(event);
    }
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events.into_iter());
    // A code block may scroll sideways: keyboard users need to be able to focus it to scroll it.
    out.replace("<pre>", "<pre tabindex=\"0\">")
}

/// A lowercase, hyphenated id made of a heading's letters and digits.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_escaped() {
        let html = render("Hello <script>alert(1)</script>\n\n<div onclick=x>hi</div>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<div"), "{html}");
    }

    #[test]
    fn dangerous_links_lose_their_target() {
        let html = render("[x](javascript:alert(1)) [y](/docs) [z](https://example.com)");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"/docs\""));
        assert!(html.contains("href=\"https://example.com\""));
    }

    #[test]
    fn the_leading_title_is_dropped_and_headings_get_ids() {
        let html = render("# Title\n\nText\n\n## A section: two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(!html.contains("<h1"), "{html}");
        assert!(html.contains("<h2 id=\"a-section-two\">"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }
}
