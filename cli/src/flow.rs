//! Field workflow commands: `today`, `alerts`, `deal`, `task`, `flow` (tenant settings), and the
//! verified check-in behind `visit check-in`.

use clap::Subcommand;
use outpost_core::{
    amount, CheckIn, ClockReference, DealFilter, Error, FlowConfig, NewDeal, NewTask, Store,
    TaskFilter,
};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum DealCmd {
    /// Add a deal with a contact, in the first stage of the pipeline.
    Add {
        /// The contact the deal is with.
        #[arg(long)]
        contact: String,
        /// What is being sold.
        #[arg(long)]
        title: String,
        /// Expected value in yuan, as typed: 305000, ¥305,000.00, RMB 30.5万, 叁拾万伍仟元整
        /// (a restricted field).
        #[arg(long, allow_hyphen_values = true)]
        amount: Option<String>,
        /// Discount in percent, 0 to 100: 15 or 15% (a restricted field).
        #[arg(long, allow_hyphen_values = true)]
        discount: Option<String>,
        /// The contract's amount, typed like --amount (a restricted field).
        #[arg(long, allow_hyphen_values = true)]
        contract_amount: Option<String>,
        /// Company (default: the contact's).
        #[arg(long)]
        company: Option<String>,
        /// Owner (default: the user).
        #[arg(long)]
        owner: Option<String>,
        /// Starting stage (its gate applies).
        #[arg(long)]
        stage: Option<String>,
        /// Notes.
        #[arg(long)]
        notes: Option<String>,
    },
    /// Show one deal.
    Get {
        /// Deal id.
        id: String,
    },
    /// List deals, most recently changed first.
    List {
        /// Only this contact's deals.
        #[arg(long)]
        contact: Option<String>,
        /// Only deals in this stage.
        #[arg(long)]
        stage: Option<String>,
        /// Only this owner's deals.
        #[arg(long)]
        owner: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Move a deal to a stage; refused (exit 2) with the missing evidence when its gate fails.
    Move {
        /// Deal id.
        id: String,
        /// The stage to enter.
        stage: String,
    },
    /// Whether a deal may enter a stage now, and what evidence is missing (never refuses).
    Check {
        /// Deal id.
        id: String,
        /// The stage.
        stage: String,
    },
    /// Who moved or changed the deal, when.
    History {
        /// Deal id.
        id: String,
    },
    /// Set or clear a restricted field of a deal: amount, discount or contract_amount
    /// (refused, exit 4, when the user's role may not write it).
    SetField {
        /// Deal id.
        id: String,
        /// amount, discount or contract_amount.
        field: String,
        /// The new value as typed (an amount like --amount, a discount like 15%; omit with
        /// --clear).
        #[arg(
            required_unless_present = "clear",
            conflicts_with = "clear",
            allow_hyphen_values = true
        )]
        value: Option<String>,
        /// Clear the field instead.
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum TaskCmd {
    /// Add a follow-up or a planned visit.
    Add {
        /// The contact.
        #[arg(long)]
        contact: String,
        /// Due day, YYYY-MM-DD.
        #[arg(long)]
        due: String,
        /// `follow_up` (default) or `visit`.
        #[arg(long = "type")]
        task_type: Option<String>,
        /// What to do.
        #[arg(long)]
        title: Option<String>,
        /// The deal concerned.
        #[arg(long)]
        deal: Option<String>,
        /// Who should do it (default: the user).
        #[arg(long)]
        owner: Option<String>,
    },
    /// Open tasks, earliest due first.
    List {
        /// Only this contact's.
        #[arg(long)]
        contact: Option<String>,
        /// Also done tasks.
        #[arg(long)]
        all: bool,
    },
    /// Mark a task done.
    Done {
        /// Task id.
        id: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum FlowCmd {
    /// Print the tenant's flow settings (stages and gates, radius, stale limits, tiers, calendar).
    Get,
    /// Replace the flow settings from a JSON file (missing keys take their defaults).
    Set {
        /// The JSON file.
        file: PathBuf,
    },
    /// What kind of day a date is in the tenant's calendar, and whether it is worked.
    Day {
        /// YYYY-MM-DD.
        date: String,
    },
}

pub(crate) fn deal(store: &mut Store, cmd: DealCmd) -> Result<(), Error> {
    match cmd {
        DealCmd::Add {
            contact,
            title,
            amount,
            discount,
            contract_amount,
            company,
            owner,
            stage,
            notes,
        } => {
            let typed = |field: &str, text: Option<String>| {
                text.map(|t| amount::parse_deal_field(field, &t))
                    .transpose()
            };
            crate::print(&store.add_deal(NewDeal {
                title,
                contact_id: contact,
                company,
                amount: typed("amount", amount)?,
                discount: typed("discount", discount)?,
                contract_amount: typed("contract_amount", contract_amount)?,
                stage,
                owner,
                notes,
            })?)
        }
        DealCmd::Get { id } => crate::print(&store.get_deal(&id)?),
        DealCmd::List {
            contact,
            stage,
            owner,
            limit,
        } => crate::print(&store.list_deals(&DealFilter {
            contact_id: contact,
            stage,
            owner,
            limit,
        })?),
        DealCmd::Move { id, stage } => crate::print(&store.move_deal(&id, &stage)?),
        DealCmd::Check { id, stage } => crate::print(&store.check_deal_stage(&id, &stage)?),
        DealCmd::History { id } => crate::print(&store.deal_history(&id)?),
        DealCmd::SetField {
            id,
            field,
            value,
            clear,
        } => {
            let value = match value {
                Some(text) if !clear => Some(amount::parse_deal_field(&field, &text)?),
                _ => None,
            };
            crate::print(&store.set_deal_field(&id, &field, value)?)
        }
    }
}

pub(crate) fn task(store: &mut Store, cmd: TaskCmd) -> Result<(), Error> {
    match cmd {
        TaskCmd::Add {
            contact,
            due,
            task_type,
            title,
            deal,
            owner,
        } => crate::print(&store.add_task(NewTask {
            task_type,
            title,
            contact_id: contact,
            deal_id: deal,
            due,
            owner,
        })?),
        TaskCmd::List { contact, all } => crate::print(&store.list_tasks(&TaskFilter {
            contact_id: contact,
            include_done: all,
            due_by: None,
        })?),
        TaskCmd::Done { id } => crate::print(&store.complete_task(&id)?),
    }
}

pub(crate) fn flow(store: &mut Store, cmd: FlowCmd) -> Result<(), Error> {
    match cmd {
        FlowCmd::Get => crate::print(&store.flow_config()?),
        FlowCmd::Set { file } => {
            let text = std::fs::read_to_string(&file).map_err(|source| Error::Io {
                op: "read",
                path: file.clone(),
                source,
            })?;
            let config: FlowConfig = serde_json::from_str(&text).map_err(|e| {
                Error::validation("config", file.display().to_string(), e.to_string())
            })?;
            store.set_flow_config(&config)?;
            crate::print(&store.flow_config()?)
        }
        FlowCmd::Day { date } => {
            let config = store.flow_config()?;
            let day = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
                .map_err(|_| Error::validation("date", date.clone(), "expected YYYY-MM-DD"))?;
            let calendar = config.calendar()?;
            let kind = calendar.day_kind(day);
            crate::print(&serde_json::json!({
                "date": day.to_string(),
                "kind": kind,
                "working": kind.is_working(),
                "holiday": calendar.holiday_name(day),
                "official_data": outpost_core::WorkCalendar::has_official_data(
                    chrono::Datelike::year(&day)
                ),
            }))
        }
    }
}

/// `visit check-in`: the visit as JSON with its `check` (verdict), `contact_located` and
/// `address_filled`.
pub(crate) fn check_in(
    store: &mut Store,
    check_in: CheckIn,
    mock_location: bool,
) -> Result<(), Error> {
    let v = store.check_in_verified(check_in, mock_location)?;
    let mut json = serde_json::to_value(&v.visit)
        .map_err(|e| Error::validation("output", "", format!("cannot render JSON: {e}")))?;
    if let Some(map) = json.as_object_mut() {
        map.insert(
            "check".into(),
            serde_json::to_value(&v.check).unwrap_or_default(),
        );
        map.insert("contact_located".into(), v.contact_located.into());
        map.insert("address_filled".into(), v.address_filled.into());
    }
    crate::print(&json)
}

/// `visit get`: the visit as JSON with its `check` (verdict; the server's once it re-checked).
pub(crate) fn visit_get(store: &Store, id: &str) -> Result<(), Error> {
    let visit = store.get_visit(id)?;
    let check = store.visit_check(id)?;
    let mut json = serde_json::to_value(&visit)
        .map_err(|e| Error::validation("output", "", format!("cannot render JSON: {e}")))?;
    if let Some(map) = json.as_object_mut() {
        map.insert(
            "check".into(),
            serde_json::to_value(&check).unwrap_or_default(),
        );
    }
    crate::print(&json)
}

/// After a sync: this machine's clock and monotonic clock, as the reference later check-ins
/// are compared with.
pub(crate) fn note_clock(store: &mut Store) -> Result<(), Error> {
    let Some(elapsed_ms) = crate::uptime_ms() else {
        return Ok(());
    };
    let wall_ms = store
        .last_server_time_ms()?
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    store.set_clock_reference(ClockReference {
        wall_ms,
        elapsed_ms,
    })
}
