//! The enrollment wizard: scan, recovery code, success. Nothing protects the account until the
//! last step; leaving earlier leaves two-factor authentication off.

use leptos::prelude::*;

use crate::paths;

use crate::{
    components::{CheckboxField, CodeField, PortalForm, SubmitButton},
    error::AppError,
};

#[server(endpoint = "start_enrollment")]
pub async fn start_enrollment() -> Result<(), AppError> {
    super::service::enroll::start().await
}

#[server(endpoint = "confirm_enrollment")]
pub async fn confirm_enrollment(code: String) -> Result<(), AppError> {
    super::service::enroll::confirm(&code).await
}

/// The wizard's step 2, and the page after a new recovery code: the person says it is saved.
#[server(endpoint = "save_recovery_code")]
pub async fn save_recovery_code(saved: Option<String>) -> Result<(), AppError> {
    let notice = super::service::enroll::save(saved.is_some()).await?;
    crate::validation::redirect(&super::service::enroll::after_wizard(notice).await?);
    Ok(())
}

#[server(endpoint = "cancel_enrollment")]
pub async fn cancel_enrollment() -> Result<(), AppError> {
    super::service::enroll::cancel().await?;
    crate::validation::redirect(paths::SECURITY);
    Ok(())
}

/// Step 1: the QR code, the key as text, and the code that proves the app has it.
#[component]
pub fn ScanStep(qr_svg: String, key: String) -> impl IntoView {
    view! {
        <h3>"Step 1 of 3: Scan"</h3>
        <p>"Scan this QR code with your authenticator app, then enter the 6-digit code it shows."</p>
        <div class="qr-code" role="img" aria-label="QR code for your authenticator app" inner_html=qr_svg></div>
        <p>"Can’t scan it? Enter this key in the app instead:"</p>
        <p class="key" aria-label="Key for manual entry">
            <code>{key}</code>
        </p>
        <PortalForm<ConfirmEnrollment> novalidate=true>
            <CodeField />
            <div class="actions">
                <SubmitButton label="Verify" />
            </div>
        </PortalForm<ConfirmEnrollment>>
        <PortalForm<CancelEnrollment> class="inline" message=false>
            <button type="submit" class="secondary">"Cancel"</button>
        </PortalForm<CancelEnrollment>>
    }
}

/// Step 2 (and a regenerated code): the recovery code, shown once.
#[component]
pub fn RecoveryCodeStep(code: String, heading: &'static str) -> impl IntoView {
    view! {
        <h3>{heading}</h3>
        <p>
            "If you lose your authenticator app, this code and your email let you back in. It is shown only now: keep it somewhere safe, such as a password manager."
        </p>
        <p class="recovery-code" aria-label="Your recovery code">
            <code>{code.clone()}</code>
        </p>
        <RecoveryCodeActions code />
        <PortalForm<SaveRecoveryCode> novalidate=true>
            <CheckboxField label="I have saved my recovery code" name="saved" value="yes" />
            <SubmitButton label="Continue" />
        </PortalForm<SaveRecoveryCode>>
    }
}

/// Copy and Download beside a recovery code: the one part of the wizard that needs the browser.
/// Copy shows only once the island runs; Download is a plain GET that works without a script,
/// kept from the islands router (which would fetch it as a page) so the browser saves the file.
#[island]
fn RecoveryCodeActions(code: String) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let copied = RwSignal::new(false);
    let copy = move |_| {
        let clipboard = window().navigator().clipboard();
        let _ = clipboard.write_text(&code);
        copied.set(true);
    };
    view! {
        <div class="actions">
            <button type="button" class="secondary" hidden=move || !hydrated.get() on:click=copy>
                "Copy"
            </button>
            <form
                method="get"
                action=paths::RECOVERY_CODE_FILE
                class="inline"
                on:submit=|event| event.stop_propagation()
            >
                <button type="submit" class="secondary">"Download"</button>
            </form>
        </div>
        <p class="notice" role="status">
            {move || copied.get().then_some("Copied to the clipboard.")}
        </p>
    }
}
