//! Fixed text that the generator draws from: names, Copilot apps, prompts and responses.
//!
//! The prompts and responses are written in the style of the examples on Microsoft's reference
//! pages for the getAllEnterpriseInteractions API. Some contain emoji, CJK and right-to-left text
//! on purpose, because real histories do and a connector must land them unchanged.

/// A given name or family name with the ASCII form used in user principal names.
#[derive(Clone, Copy)]
pub(super) struct NamePart {
    pub display: &'static str,
    pub ascii: &'static str,
}

const fn name(display: &'static str, ascii: &'static str) -> NamePart {
    NamePart { display, ascii }
}

/// Full names given to the first users, so that every generated tenant of four or more users
/// has non-ASCII display names.
pub(super) const FEATURED_NAMES: [(&str, &str); 4] = [
    ("Zoë Müller", "zoe.muller"),
    ("Łukasz Nowak", "lukasz.nowak"),
    ("Søren Kierkegaard", "soren.kierkegaard"),
    ("李娜", "li.na"),
];

pub(super) const GIVEN_NAMES: [NamePart; 32] = [
    name("Zoë", "zoe"),
    name("Łukasz", "lukasz"),
    name("Søren", "soren"),
    name("Amélie", "amelie"),
    name("José", "jose"),
    name("Ana", "ana"),
    name("Liam", "liam"),
    name("Olivia", "olivia"),
    name("Noah", "noah"),
    name("Emma", "emma"),
    name("Mateo", "mateo"),
    name("Aisha", "aisha"),
    name("Priya", "priya"),
    name("Kenji", "kenji"),
    name("Ingrid", "ingrid"),
    name("Björn", "bjorn"),
    name("Chloé", "chloe"),
    name("Dmitri", "dmitri"),
    name("Fatima", "fatima"),
    name("Grace", "grace"),
    name("Hiroshi", "hiroshi"),
    name("Isabel", "isabel"),
    name("Jonas", "jonas"),
    name("Kateřina", "katerina"),
    name("Lars", "lars"),
    name("Mei", "mei"),
    name("Nadia", "nadia"),
    name("Oğuz", "oguz"),
    name("Pedro", "pedro"),
    name("Rania", "rania"),
    name("Sven", "sven"),
    name("Tomás", "tomas"),
];

pub(super) const FAMILY_NAMES: [NamePart; 24] = [
    name("Müller", "muller"),
    name("Nowak", "nowak"),
    name("Kierkegaard", "kierkegaard"),
    name("García", "garcia"),
    name("Smith", "smith"),
    name("Johansson", "johansson"),
    name("Dubois", "dubois"),
    name("Rossi", "rossi"),
    name("Tanaka", "tanaka"),
    name("Patel", "patel"),
    name("Kowalski", "kowalski"),
    name("O'Brien", "obrien"),
    name("Nguyen", "nguyen"),
    name("Schröder", "schroder"),
    name("Fernández", "fernandez"),
    name("Yılmaz", "yilmaz"),
    name("Novák", "novak"),
    name("Haddad", "haddad"),
    name("Andersen", "andersen"),
    name("Ivanova", "ivanova"),
    name("Costa", "costa"),
    name("Lefèvre", "lefevre"),
    name("Weber", "weber"),
    name("Kim", "kim"),
];

/// Full names written family name first, or in a right-to-left script, with their ASCII forms.
pub(super) const WHOLE_NAMES: [(&str, &str); 6] = [
    ("李娜", "li.na"),
    ("王芳", "wang.fang"),
    ("张伟", "zhang.wei"),
    ("佐藤 花子", "sato.hanako"),
    ("김민준", "kim.minjun"),
    ("ليلى حداد", "layla.haddad"),
];

/// A Copilot app: the suffix of its `appClass`, its conversation type, the name of the bot that
/// responds in it, its share of sessions, and the family of records it produces.
pub(super) struct CopilotApp {
    pub suffix: &'static str,
    pub conversation_type: &'static str,
    pub bot_name: &'static str,
    pub weight: u32,
    pub kind: AppKind,
}

/// The families of apps whose records differ in shape.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum AppKind {
    /// BizChat, WebChat and CoworkChat: html bodies that point at an Adaptive Card, and links.
    Chat,
    /// Copilot in Teams chats and meetings.
    Teams,
    /// Outlook: email drafting and summaries.
    Mail,
    /// Apps that work on one open document, which appears as a context.
    Document,
}

const fn app(
    suffix: &'static str,
    conversation_type: &'static str,
    bot_name: &'static str,
    weight: u32,
    kind: AppKind,
) -> CopilotApp {
    CopilotApp { suffix, conversation_type, bot_name, weight, kind }
}

/// "PowerPoint" and "Powerpoint" both occur as appClass suffixes in exported histories.
pub(super) static APPS: [CopilotApp; 14] = [
    app("BizChat", "bizchat", "Microsoft 365 Chat", 30, AppKind::Chat),
    app("WebChat", "bizchat", "Microsoft 365 Chat", 6, AppKind::Chat),
    app("Teams", "appchat", "Copilot in Teams", 18, AppKind::Teams),
    app("Outlook", "appchat", "Copilot in Outlook", 10, AppKind::Mail),
    app("Word", "appchat", "Copilot in Word", 10, AppKind::Document),
    app("Excel", "appchat", "Copilot in Excel", 6, AppKind::Document),
    app("PowerPoint", "appchat", "Copilot in PowerPoint", 5, AppKind::Document),
    app("Powerpoint", "appchat", "Copilot in PowerPoint", 1, AppKind::Document),
    app("Loop", "appchat", "Copilot in Loop", 2, AppKind::Document),
    app("OneNote", "appchat", "Copilot in OneNote", 2, AppKind::Document),
    app("SharePoint", "appchat", "Copilot in SharePoint", 3, AppKind::Document),
    app("Forms", "appchat", "Copilot in Forms", 1, AppKind::Document),
    app("Whiteboard", "appchat", "Copilot in Whiteboard", 1, AppKind::Document),
    app("CoworkChat", "appchat", "Microsoft 365 Copilot", 3, AppKind::Chat),
];

/// The application id of the Copilot bot in every published example.
pub(super) const COPILOT_APP_ID: &str = "fb8d773d-7ef8-4ec0-a117-179f88add510";

pub(super) const CHAT_PROMPTS: [&str; 12] = [
    "What should be on my radar from emails last week?",
    "What are the key action items from my recent meetings?",
    "Help me prepare for my 1:1 tomorrow",
    "Summarize the latest updates on the Contoso launch",
    "Which documents did I work on most this month?",
    "Draft a status update for my manager based on this week's meetings",
    "Who owns the FY27 budget review and when is it due?",
    "Find the slides Kenji shared about the pricing change",
    "Draft a toast for the team 🎉🥂",
    "来週の会議の準備を手伝ってください",
    "لخص رسائل البريد الإلكتروني من الأسبوع الماضي",
    "Fasse meine Besprechungen von gestern zusammen 📝",
];

pub(super) const CHAT_ANSWERS: [&str; 6] = [
    "It looks like there were no important emails from last week. However, I found some relevant meetings and files that might be of interest to you.",
    "Here are the action items from your recent meetings:\n\n- **Send the launch reminder** (you, by Friday)[1]\n- **Review the pricing deck** (Kenji)[2]\n- **Book the venue** (Amélie)[3]",
    "It looks like you were about to ask for help preparing for something. Could you please provide more details or specify which meeting or task you need help with?",
    "The Contoso launch moved to next Thursday. Marketing finished the press kit, and legal is still reviewing the terms of service[1].",
    "You worked most on **Q3 plan.docx** and **Budget FY27.xlsx** this month[1][2].",
    "来週は3件の会議があります。最も重要なのは木曜日の四半期レビューです[1]。",
];

pub(super) const TEAMS_PROMPTS: [&str; 6] = [
    "Summarize this chat",
    "What decisions were made in this conversation?",
    "List the open questions from this thread",
    "What did I miss while I was away? 🙏",
    "总结一下这个聊天的要点 ✅",
    "סכם את השיחה הזאת",
];

pub(super) const TEAMS_ANSWERS: [&str; 4] = [
    "The team agreed to move the release to next week and to keep the beta open until then.",
    "Open questions: who signs off on the budget, and whether the demo runs on the new tenant.",
    "While you were away, Zoë shared the updated roadmap and Łukasz asked for feedback by Friday.",
    "主要决定：发布推迟一周，测试版继续开放。",
];

pub(super) const MEETING_PROMPTS: [&str; 5] = [
    "what was this meeting about?",
    "What decisions were made?",
    "List the action items with owners",
    "Summarize what I missed",
    "Was ist bisher besprochen worden?",
];

pub(super) const MEETING_ANSWERS: [&str; 4] = [
    "I need to hear more discussion before I can get to work. Please try again in a few minutes.",
    "I use the transcript to generate insights, and need to hear more discussion before I can get to work. Please try again in a few minutes.",
    "The meeting covered the Q3 roadmap. Decisions: ship the beta on the 14th and freeze features a week before.",
    "Action items: Priya updates the forecast, Jonas books the customer demo, and you send the recap.",
];

pub(super) const MAIL_PROMPTS: [&str; 5] = [
    "Summarize this email thread",
    "Draft a reply that accepts the invitation politely",
    "Make this email more concise",
    "Coach me on the tone of this draft",
    "Réponds en proposant un créneau mardi après-midi",
];

pub(super) const MAIL_ANSWERS: [&str; 4] = [
    "The thread discusses the renewal of the Fabrikam contract. Fabrikam asks for a 5% discount and an answer by Monday.",
    "Hi Sven,\n\nThank you for the invitation. I'd be glad to join on Tuesday.\n\nBest regards",
    "Your draft is clear. Consider opening with the request and moving the background to the second paragraph.",
    "Bonjour, je vous propose mardi à 14 h. Cordialement",
];

pub(super) const DOCUMENT_PROMPTS: [&str; 7] = [
    "Summarize this document",
    "Rewrite the introduction to be more engaging",
    "Create a table of the key figures",
    "Add a slide about next steps",
    "What are the main risks mentioned here?",
    "Suggest formulas to compute the quarterly growth",
    "この資料の要点を3つにまとめて",
];

pub(super) const DOCUMENT_ANSWERS: [&str; 5] = [
    "The document proposes a phased rollout in three regions, with a budget of 1.2 M€ and a review after each phase.",
    "Here is a more engaging introduction: \"Every great launch starts with a clear plan, and this is ours.\"",
    "| Quarter | Revenue | Growth |\n|---|---|---|\n| Q1 | 4.1 | 3% |\n| Q2 | 4.4 | 7% |",
    "The main risks are supplier delays, the currency exposure in the EMEA region, and the hiring plan.",
    "Use =C3/B3-1 in column D to compute the quarter-over-quarter growth.",
];

/// Files that documents, contexts and links point at.
pub(super) const FILE_NAMES: [&str; 8] = [
    "Q3 plan.docx",
    "Budget FY27.xlsx",
    "Launch deck.pptx",
    "OnCall DRI Handbook-v3.pdf",
    "Roadmap.loop",
    "Team notebook.one",
    "Customer survey.form",
    "Retro board.whiteboard",
];

pub(super) const MEETING_TITLES: [&str; 6] = [
    "Quarterly business review",
    "Design sync – Contoso app",
    "test meeting2 - export api",
    "Weekly standup",
    "Kundentermin Fabrikam",
    "1:1 Zoë / Łukasz",
];

/// Channels and tags that prompts mention besides users.
pub(super) const CHANNEL_NAMES: [&str; 3] = ["Launch team", "General", "Ventas España"];
pub(super) const TAG_NAMES: [&str; 3] = ["Designers", "On-call", "Reviewers"];

/// Locales with their weights; both cases of `en-us` occur in exported histories.
pub(super) static LOCALES: [(&str, u32); 4] = [("en-us", 60), ("en-US", 20), ("de-de", 10), ("ja-jp", 10)];

/// Devices that `from.device` names when it is present.
pub(super) const DEVICE_NAMES: [&str; 4] = ["LAPTOP-7F3K2Q", "Surface Pro 9", "iPhone", "Windows"];
