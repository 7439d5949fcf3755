import QRCode from 'qrcode'

/**
 * A QR payload as a PNG data URL, rendered once by the owner: it goes into the `connection.update`
 * event and the session row, and the API serves it from there (as JSON, or decoded as PNG bytes).
 */
export function renderQrImage(qr: string): Promise<string> {
  return QRCode.toDataURL(qr, { errorCorrectionLevel: 'L', margin: 2, width: 264 })
}
