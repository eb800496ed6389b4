use super::*;

#[test]
fn with_vm_reuses_an_idle_vm_and_nests_with_a_fresh_one() {
    // A VM used once is kept: its grown stack is still there next time.
    with_vm(|vm| vm.ensure_stack(100_000));
    assert!(with_vm(|vm| vm.stack.len()) >= 100_000);
    // Nesting gives a VM distinct from the one in use.
    with_vm(|a| {
        let a_addr = a as *const Vm as usize;
        with_vm(|b| assert_ne!(a_addr, b as *const Vm as usize));
    });
}

#[test]
fn a_cancelled_token_stops_calls_and_is_cleared_after_with_vm() {
    let token = crate::pool::CancelToken::new();
    token.cancel();
    let f = crate::stdlib::lookup_global("len").unwrap();
    let r = with_vm(|vm| {
        vm.set_cancel_token(Some(token.clone()));
        vm.call(&f, &[Value::list(vec![])])
    });
    assert_eq!(r.unwrap_err().kind(), ErrorKind::Cancelled);
    // The next user of this thread's VMs gets no token.
    let r = with_vm(|vm| {
        assert!(vm.cancel_token().is_none());
        vm.call(&f, &[Value::list(vec![])])
    });
    assert!(matches!(r, Ok(Value::Int(0))));
}

#[test]
fn call_site_is_none_outside_weft_code() {
    with_vm(|vm| assert!(vm.call_site().is_none()));
}
