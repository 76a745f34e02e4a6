//! The one place tests take the org, its installation and its people from (they used to be
//! redefined, under several names, in every test file).

/// The org that installed the app, its installation and its one repository at the start.
pub const INSTALLATION: i64 = 41234567;
pub const ORG: &str = "octo-org";
pub const REPO: &str = "hello-world";
/// A second org's installation, for what must not cross from one org to another.
pub const OTHER_INSTALLATION: i64 = INSTALLATION + 1;
pub const OTHER_ORG: &str = "other-org";

/// Someone on GitHub and, maybe, on Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub github_id: i64,
    pub login: &'static str,
    /// The public email of their GitHub profile (how the app finds them on Slack).
    pub public_email: Option<&'static str>,
    /// Their Slack user, its email and clock.
    pub slack_id: Option<&'static str>,
    pub slack_email: &'static str,
    pub tz: &'static str,
    pub tz_offset: i64,
    pub bot: bool,
}

/// A member with a public email; works in Berlin.
pub const MONA: Person = Person {
    github_id: 583231,
    login: "mona",
    public_email: Some("mona@example.com"),
    slack_id: Some("UMONA"),
    slack_email: "mona@example.com",
    tz: "Europe/Berlin",
    tz_offset: 3600,
    bot: false,
};

/// A member with a public email; works in New York.
pub const HUBOT: Person = Person {
    github_id: 1000001,
    login: "hubot",
    public_email: Some("hubot@example.com"),
    slack_id: Some("UHUBOT"),
    slack_email: "hubot@example.com",
    tz: "America/New_York",
    tz_offset: -5 * 3600,
    bot: false,
};

/// A member without a public email: on Slack, but the app cannot tell who they are there.
pub const OCTOCAT: Person = Person {
    github_id: 1000002,
    login: "octocat",
    public_email: None,
    slack_id: Some("UOCTO"),
    slack_email: "octocat@example.com",
    tz: "UTC",
    tz_offset: 0,
    bot: false,
};

/// A bot account that reviews pull requests.
pub const DEPENDABOT: Person = Person {
    github_id: 49699333,
    login: "dependabot[bot]",
    public_email: None,
    slack_id: None,
    slack_email: "",
    tz: "UTC",
    tz_offset: 0,
    bot: true,
};

/// Not a member of the org: an outside collaborator, on Slack under another domain.
pub const OUTSIDER: Person = Person {
    github_id: 4343,
    login: "outsider",
    public_email: None,
    slack_id: Some("UOUT"),
    slack_email: "outsider@elsewhere.example",
    tz: "UTC",
    tz_offset: 0,
    bot: false,
};

/// The org's members at the start of every scenario, in this order.
pub const MEMBERS: [Person; 3] = [MONA, HUBOT, OCTOCAT];

/// Everyone the fakes know.
pub const EVERYONE: [Person; 5] = [MONA, HUBOT, OCTOCAT, DEPENDABOT, OUTSIDER];
