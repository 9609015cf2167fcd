//! Districts as scopes: a principal's roles hold for the whole province
//! (`None`) or for a set of groups. A panel is inside a scope when one of
//! its groups is; a target is inside when everything it can reach is:
//! `all` never is (for a scoped principal), `group:X` when X is in the
//! scope, a panel id when that panel is inside. Pure: the panels are an
//! argument. The API applies it in one gate (`api::scope`).

use crate::domain::{Id, Panel, Role, Target};

use crate::i18n::Reason;

/// Refuses the admin role with a scope: an administrator manages
/// accounts, tokens and panels, which have no district, so the role
/// holds for the whole province or not at all.
pub(crate) fn admin_province_wide(roles: &[Role], scope: &Option<Vec<Id>>) -> Result<(), Reason> {
    if scope.is_some() && roles.contains(&Role::Admin) {
        return Err(Reason::AdminScoped);
    }
    Ok(())
}

/// Whether `panel` is inside `scope`.
pub(crate) fn panel_inside(scope: &[Id], panel: &Panel) -> bool {
    panel
        .groups
        .iter()
        .any(|g| scope.iter().any(|s| s.as_str() == g))
}

/// Whether every target is inside `scope`; the first that is not, as the
/// sentence to show. A panel id no panel has is left to the store's
/// check (which refuses unknown references).
pub(crate) fn targets_inside<'a>(
    scope: &[Id],
    targets: &[Target],
    panel: impl Fn(&Id) -> Option<&'a Panel>,
) -> Result<(), Reason> {
    let groups = || scope.iter().map(Id::as_str).collect::<Vec<_>>().join(", ");
    for t in targets {
        let inside = match t {
            Target::All => false,
            Target::Group(g) => scope.iter().any(|s| s.as_str() == g),
            Target::Panel(id) => panel(id).is_none_or(|p| panel_inside(scope, p)),
        };
        if !inside {
            return Err(Reason::OutsideScope {
                target: t.to_string(),
                scope: groups(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(id: &str, groups: &[&str]) -> Panel {
        serde_json::from_value(
            serde_json::json!({"id": id, "name": id, "width": 64, "height": 32,
            "format": "mono1", "groups": groups}),
        )
        .unwrap()
    }

    #[test]
    fn a_target_is_inside_only_when_all_it_reaches_is() {
        let scope = vec![Id::parse("cua-lo").unwrap()];
        let panels = [
            panel("cl-1", &["cua-lo", "ven-bien"]),
            panel("vinh-1", &["vinh"]),
        ];
        let find = |id: &Id| panels.iter().find(|p| &p.id == id);
        let t = |s: &str| Target::parse(s).unwrap();
        assert!(targets_inside(&scope, &[t("group:cua-lo"), t("cl-1")], find).is_ok());
        for escape in ["all", "group:vinh", "group:ven-bien", "vinh-1"] {
            let e = targets_inside(&scope, &[t("group:cua-lo"), t(escape)], find).unwrap_err();
            assert!(
                e.render(crate::i18n::Lang::En).contains(escape),
                "{escape}: {}",
                e.render(crate::i18n::Lang::En)
            );
        }
        assert!(panel_inside(&scope, &panels[0]) && !panel_inside(&scope, &panels[1]));
    }

    #[test]
    fn the_admin_role_is_province_wide_only() {
        let district = Some(vec![Id::parse("cua-lo").unwrap()]);
        assert_eq!(
            admin_province_wide(&[Role::Editor, Role::Admin], &district),
            Err(Reason::AdminScoped)
        );
        assert!(admin_province_wide(&[Role::Admin], &None).is_ok());
        assert!(admin_province_wide(&[Role::Editor, Role::Approver], &district).is_ok());
    }
}
